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

Images are read with Keras's own ``keras.utils.load_img`` (any Keras backend, no
TensorFlow needed). Every image gets the size and colour mode of the first image
read (the first file of the first class, in sorted order, of ``train/`` when
there is one): a grey first image makes the whole dataset one channel, any other
makes it RGB. Images of another size are resized (bilinear), ignoring their aspect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

import zoo
from zoo.card import Dataset
from zoo.datasets import ImageData, as_pixels
from zoo.errors import BadInput

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
TEST_FRACTION = 0.2
SPLIT_SEED = 0
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")  # PIL modes without colour


def class_folders(folder: Path) -> dict[str, list[Path]]:
    """Class name -> its image files, both sorted; a folder with no classes or an empty class is an error."""
    if not folder.is_dir():
        raise BadInput(f"{folder} is not a folder: --dataset folder:PATH needs a folder with one "
                       "sub-folder of images per class.")
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise BadInput(f"{folder} has no class folders: put each class's images in its own sub-folder "
                       f"(PATH/CLASS/*.png), or PATH/train/CLASS/ and PATH/test/CLASS/.")
    found = {}
    for class_dir in classes:
        images = sorted(p for p in class_dir.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)
        if not images:
            raise BadInput(f"{class_dir} holds no images ({', '.join(EXTENSIONS)}): add some, or remove the folder.")
        found[class_dir.name] = images
    return found


def _first_image_format(path: Path) -> tuple[tuple[int, int], str]:
    """(height, width) and Keras's colour mode for the whole dataset, from its first image."""
    from PIL import Image  # Keras's load_img needs Pillow too

    try:
        with Image.open(path) as image:
            width, height = image.size
            grey = image.mode in GREY_MODES
    except Exception as exc:
        raise BadInput(f"{path} is not a readable image ({type(exc).__name__}): replace or remove it.") from None
    return (height, width), ("grayscale" if grey else "rgb")


def read_images(files: list[Path], size: tuple[int, int], color_mode: str) -> np.ndarray:
    """The files as one uint8 array (N, height, width, 1 or 3)."""
    import keras

    channels = 1 if color_mode == "grayscale" else 3
    images = np.empty((len(files), *size, channels), dtype=np.uint8)
    for i, path in enumerate(files):
        try:
            image = keras.utils.load_img(path, color_mode=color_mode, target_size=size, interpolation="bilinear")
            pixels = keras.utils.img_to_array(image)  # floats: uint8 would wrap a 16-bit image's 300 to 44
        except Exception as exc:
            raise BadInput(f"{path} is not a readable image ({type(exc).__name__}): replace or remove it.") from None
        images[i] = as_pixels(pixels, str(path))
    return images


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


def load_folder(path, variant: Optional[str] = None) -> ImageData:
    """The dataset in ``path``: ``train/`` and ``test/`` class folders, or class folders split here."""
    path = Path(path).expanduser()
    if (path / "train").is_dir() and (path / "test").is_dir():
        train, test = class_folders(path / "train"), class_folders(path / "test")
        if list(train) != list(test):
            only_train, only_test = sorted(set(train) - set(test)), sorted(set(test) - set(train))
            raise BadInput(f"{path}/train and {path}/test must hold the same class folders; only in train: "
                           f"{', '.join(only_train) or 'none'}; only in test: {', '.join(only_test) or 'none'}.")
        class_names = list(train)
        (train_files, y_train), (test_files, y_test) = _labelled(train), _labelled(test)
        size, color_mode = _first_image_format(train_files[0])
        train_order, test_order = interleaved(y_train), interleaved(y_test)
        train_files, y_train = [train_files[i] for i in train_order], y_train[train_order]
        test_files, y_test = [test_files[i] for i in test_order], y_test[test_order]
        x_train, x_test = read_images(train_files, size, color_mode), read_images(test_files, size, color_mode)
        source = str(path)
    else:
        classes = class_folders(path)
        class_names = list(classes)
        files, labels = _labelled(classes)
        train_index, test_index = seeded_split(labels)
        if not len(test_index):
            raise BadInput(f"{path}: every class has a single image, too few to split off a test set; "
                           "add images, or give train/ and test/ sub-folders.")
        size, color_mode = _first_image_format(files[0])
        images = read_images(files, size, color_mode)
        x_train, y_train = images[train_index], labels[train_index]
        x_test, y_test = images[test_index], labels[test_index]
        source = f"{path} (split {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%} with seed {SPLIT_SEED})"
    return ImageData(f"folder:{path}", x_train, y_train, x_test, y_test, class_names, source)


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
