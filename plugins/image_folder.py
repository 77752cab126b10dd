"""Any folder of images, one sub-folder per class: ``--dataset folder:PATH``.

Layouts::

    PATH/train/CLASS/*.png, PATH/test/CLASS/*.png   the two splits as given
    PATH/CLASS/*.png                                 split here: 20% of each class for test

Class names are the sub-folder names, sorted; the labels are their positions
(0, 1, ...). With ``train/`` and ``test/`` both splits must have the same classes.
Without them, each class's images are shuffled with a fixed seed (0) and 20% of
them (at least one, when the class has two or more) go to the test split, so the
split is stratified and the same on every run.

Both splits come out with the classes interleaved (each class in a fixed-seed order,
spread evenly through the split), not one class after another: zoo takes the first
part of the training set for validation and ``--limit`` keeps the first images, and
either must see every class.

Images are not read here: the dataset is a description of the files (zoo.data.sources.ImageFiles),
decoded a batch at a time at each trial's input size (zoo.data.decode has the rules). Only each
file's header is read: a file that is not a readable image is skipped and reported, and the
folder is grey (one channel) only when every image in it is grey.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

import zoo
from zoo.core.card import Dataset
from zoo.data.decode import EXTENSIONS, is_ignored_folder, is_image_name
from zoo.data.sources import ImageFiles, Scanned, fingerprint, median_size, scan
from zoo.errors import BadInput

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def class_folders(folder: Path) -> dict[str, list[Path]]:
    """Class name -> its image files, both sorted; a folder with no classes or an empty class is an error."""
    if not folder.is_dir():
        raise BadInput(f"{folder} is not a folder: --dataset folder:PATH needs a folder with one "
                       "sub-folder of images per class.")
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not is_ignored_folder(p))
    if not classes:
        raise BadInput(f"{folder} has no class folders: put each class's images in its own sub-folder "
                       f"(PATH/CLASS/*.png), or PATH/train/CLASS/ and PATH/test/CLASS/.")
    found = {}
    for class_dir in classes:
        images = sorted(p for p in class_dir.iterdir() if p.is_file() and is_image_name(p))
        if not images:
            raise BadInput(f"{class_dir} holds no images ({', '.join(EXTENSIONS)}): add some, or remove the folder.")
        found[class_dir.name] = images
    return found


def _labelled(classes: dict[str, list[Path]]) -> tuple[list[Path], np.ndarray]:
    files = [f for images in classes.values() for f in images]
    labels = np.concatenate([np.full(len(images), i, dtype=np.int64) for i, images in enumerate(classes.values())])
    return files, labels


def interleaved(labels: np.ndarray, seed: int = SPLIT_SEED) -> np.ndarray:
    """Indices of ``labels`` with the classes mixed evenly, each class in a seeded random order:
    any leading part holds every class in about its share."""
    if not len(labels):
        return np.empty(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    order, position = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        order.append(members)
        position.append((np.arange(len(members)) + 0.5) / len(members))  # where in the split it goes
    return np.concatenate(order)[np.argsort(np.concatenate(position), kind="stable")]


def seeded_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices: per class, a fixed-seed shuffle and TEST_FRACTION of it for test;
    each split then interleaved by class."""
    rng = np.random.default_rng(SPLIT_SEED)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = min(max(1, round(len(members) * TEST_FRACTION)), len(members) - 1)
        test.append(members[:n_test])
        train.append(members[n_test:])
    train, test = np.concatenate(train), np.concatenate(test)
    return train[interleaved(labels[train])], test[interleaved(labels[test])]


def load_folder(path, variant: Optional[str] = None) -> ImageFiles:
    """The dataset in ``path``: ``train/`` and ``test/`` class folders, or class folders split here."""
    path = Path(path).expanduser().absolute()  # trial processes and Ray workers may start elsewhere
    if (path / "train").is_dir() and (path / "test").is_dir():
        (train, scanned), (test, scanned_test) = _readable(class_folders(path / "train")), \
            _readable(class_folders(path / "test"))
        scanned += scanned_test
        if list(train) != list(test):
            only_train, only_test = sorted(set(train) - set(test)), sorted(set(test) - set(train))
            raise BadInput(f"{path}/train and {path}/test must hold the same class folders; only in train: "
                           f"{', '.join(only_train) or 'none'}; only in test: {', '.join(only_test) or 'none'}.")
        class_names = list(train)
        (train_files, y_train), (test_files, y_test) = _labelled(train), _labelled(test)
        train_order, test_order = interleaved(y_train), interleaved(y_test)
        train_files, y_train = [train_files[i] for i in train_order], y_train[train_order]
        test_files, y_test = [test_files[i] for i in test_order], y_test[test_order]
        source = str(path)
    else:
        classes, scanned = _readable(class_folders(path))
        class_names = list(classes)
        files, labels = _labelled(classes)
        train_index, test_index = seeded_split(labels)
        if not len(test_index):
            raise BadInput(f"{path}: every class has a single image, too few to split off a test set; "
                           "add images, or give train/ and test/ sub-folders.")
        train_files, y_train = [files[i] for i in train_index], labels[train_index]
        test_files, y_test = [files[i] for i in test_index], labels[test_index]
        source = f"{path} (split {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%} with seed {SPLIT_SEED})"
    return ImageFiles(f"folder:{path}", tuple(map(str, train_files)), y_train, tuple(map(str, test_files)), y_test,
                      class_names, source, grey=all(s.grey for s in scanned),
                      skipped=tuple(bad for s in scanned for bad in s.skipped),
                      median_size=median_size([size for s in scanned for size in s.sizes]),
                      fingerprint=fingerprint(path, [*train_files, *test_files], np.concatenate([y_train, y_test])))


def _readable(classes: dict[str, list[Path]]) -> tuple[dict[str, list[Path]], list[Scanned]]:
    """Each class's files whose headers read as images, and what the scan of each class found;
    a class left with no readable image is an error."""
    kept, scanned = {}, []
    for name, files in classes.items():
        found = scan(files)
        scanned.append(found)
        if not found.readable:
            raise BadInput(f"{Path(files[0]).parent} holds no readable images ({len(found.skipped)} unreadable, "
                           f"such as {found.skipped[0][0]}: {found.skipped[0][1]}): add some, or remove the folder.")
        kept[name] = found.readable
    return kept, scanned


@zoo.hookimpl
def register_datasets(register):
    register(Dataset(
        name="folder",
        num_classes=None,
        class_names=None,
        image_shape=None,
        load_local=load_folder,
        download=None,
        path_argument=True,
        local_files="one sub-folder of images per class (PATH/CLASS/*.png), or PATH/train/CLASS/ and PATH/test/CLASS/",
        description=f"Your own images, one folder per class ({' '.join(EXTENSIONS)}); without train/ and test/, "
                    f"{TEST_FRACTION:.0%} of each class is held out for test (fixed seed).",
    ))
