"""Datasets: a ``--dataset`` value parsed once (``DatasetSpec``), what a loader returns (arrays,
``ImageData``, or a description of image files, ``zoo.data.sources.ImageFiles``), loading it, and the
train, validation and test splits (``Splits``).

Datasets are plugins like backbones: a plugin implements ``register_datasets``
and calls ``register(zoo.Dataset(...))`` (the card is in zoo.core.card). zoo's own
(cifar10, cifar100, mnist, fashion_mnist, folder, synthetic) live in ``plugins/``
and register the same way. A loader may return either: ``ImageFiles`` streams (images
decoded a batch at a time, at the trial's size), ``ImageData`` is held whole in memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..core.recipe import Recipe
from ..core.registry import get_dataset
from ..errors import BadInput
from .sources import FileView, ImageFiles, fingerprint, first_few


@dataclass
class ImageData:
    """A dataset's splits as uint8 images (N, H, W, C) and integer labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str  # where it was read from, for the results
    note: str = ""  # said in the table's caption, e.g. that the data is synthetic

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])


def as_pixels(x, where: str) -> np.ndarray:
    """``x`` as uint8, refusing values uint8 cannot hold (it would wrap 300 to 44 and cut 2.5 to 2)."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return x
    if x.dtype.kind not in "iuf":
        raise BadInput(f"{where}: pixel values must be numbers 0-255, not {x.dtype}.")
    bad = x[(x < 0) | (x > 255) | (x != np.round(x))]  # NaN too: it equals nothing
    if bad.size:
        raise BadInput(f"{where}: pixel values must be 0-255, found {bad.flat[0]:g}: scale the images to 0-255 "
                       "(16-bit ones: divide by 257), or give them as files (zoo.ImageFiles), which zoo "
                       "scales itself.")
    return x.astype(np.uint8)


def as_labels(y, where: str) -> np.ndarray:
    """``y`` as int64 class indices; whole-number floats (3.0, as numpy or JSON may write them) are taken."""
    y = np.asarray(y)
    if y.dtype.kind not in "iuf":
        raise BadInput(f"{where}: labels must be integers, not {y.dtype}.")
    fractional = y[y != np.round(y)]
    if fractional.size:
        raise BadInput(f"{where}: labels must be integers, found {y.dtype} values like {fractional.flat[0]:g}.")
    if y.size and y.min() < 0:
        raise BadInput(f"{where}: labels must be 0 or more, found {y.min():g}.")
    return y.astype(np.int64, copy=False)


def split_spec(spec: str) -> tuple[str, str | None]:
    """``"cifar100:coarse"`` -> ``("cifar100", "coarse")``; ``"mnist"`` -> ``("mnist", None)``."""
    name, sep, argument = spec.partition(":")
    return name.strip().lower(), (argument if sep else None)


def parse_dataset_specs(text: str) -> list[str]:
    """``--dataset "mnist, cifar100:coarse"`` -> ``["mnist", "cifar100:coarse"]``, each once, in order."""
    specs = list(dict.fromkeys(spec.strip() for spec in text.split(",") if spec.strip()))
    if not specs:
        raise BadInput(f"--dataset {text!r}: name at least one dataset (see `zoo datasets`).")
    return specs


@dataclass(frozen=True)
class DatasetSpec:
    """One ``--dataset`` value, parsed and looked up once (in the plan); what trials carry to
    wherever they run. Paths are expanded here, once."""

    text: str  # as given ("cifar100:coarse", "folder:~/photos"): it names the rows and trials
    name: str  # the registered dataset card
    variant: str | None = None  # the variant read (the card's first when none is given)
    path: str | None = None  # folder:PATH, expanded
    data_dir: str | None = None  # --data-dir, expanded, where the card reads it
    strict: bool = False  # --strict: a file that is not a readable image stops the run

    @property
    def store_name(self) -> str:
        """The dataset as the feature store's key names it: a folder by its real path, so that
        ``folder:~/x`` and ``folder:/home/me/x`` are one dataset; others by their text."""
        return f"{self.name}:{os.path.realpath(self.path)}" if self.path is not None else self.text


def parse_dataset(text: str, data_dir=None, alone: bool = True, strict: bool = False) -> DatasetSpec:
    """``--dataset text`` (``name`` or ``name:argument``) with ``--data-dir``, checked against its card.

    In a grid of datasets (``alone`` False) ``data_dir`` goes to those that read files from it;
    alone, a dataset that cannot use it is refused. Raises BadInput, naming the fix, for an
    unknown name, a variant the card lacks, a missing folder argument, or a ``--data-dir`` or a
    download the dataset cannot use.
    """
    name, argument = split_spec(text)
    card = get_dataset(name)
    data_dir = None if data_dir is None else os.path.expanduser(str(data_dir))
    if card.path_argument:
        if not argument:
            raise BadInput(f"--dataset {name} needs a folder: --dataset {name}:PATH.")
        if data_dir is not None and alone:
            raise BadInput(f"--dataset {name}:PATH reads PATH; leave out --data-dir.")
        path = os.path.expanduser(argument)
        if not os.path.isdir(path):
            raise BadInput(f"--dataset {text}: {path} is not a folder: give the folder that holds the images.")
        return DatasetSpec(text, name, path=path, strict=strict)
    if card.argument:
        if not argument:
            raise BadInput(f"--dataset {name} needs an argument: --dataset {name}:{card.argument}.")
    elif argument is not None and argument not in card.variants:
        takes = f"takes {', '.join(card.variants)}" if card.variants else "takes no ':' argument"
        raise BadInput(f"--dataset {text}: {name} {takes}.")
    variant = argument if card.argument else argument or (card.variants[0] if card.variants else None)
    if data_dir is not None and card.load_local is None:
        if alone:
            raise BadInput(f"dataset {name} cannot be read from --data-dir; leave it out.")
        data_dir = None
    if data_dir is None and card.download is None:
        raise BadInput(f"dataset {name} has no download: pass --data-dir with {card.local_files or 'its files'}.")
    if data_dir is not None and not os.path.exists(data_dir):
        raise BadInput(f"--data-dir {data_dir}: no such file or folder: give where {name}'s files are "
                       f"({card.local_files or 'in its published format'}).")
    return DatasetSpec(text, name, variant, None, data_dir, strict)


def load(spec: DatasetSpec) -> ImageData | ImageFiles:
    """The splits of a parsed dataset, from its folder, ``--data-dir`` or download, checked for
    sense. With ``spec.strict`` a file that is not a readable image is a BadInput naming it."""
    card = get_dataset(spec.name)
    if spec.path is not None:
        data = card.load_local(Path(spec.path), None)
    elif spec.data_dir is not None:
        data = card.load_local(Path(spec.data_dir), spec.variant)
    else:
        data = card.download(spec.variant)
    return check(data, spec.text, spec.strict)


def load_dataset(spec: str, data_dir=None) -> ImageData | ImageFiles:
    """The splits of ``--dataset spec`` (``name`` or ``name:argument``), checked for sense."""
    return load(parse_dataset(spec, data_dir))


def check(data: ImageData | ImageFiles, spec: str, strict: bool = False) -> ImageData | ImageFiles:
    """Labels and images a loader returned, checked and given the types the harness expects
    (uint8 images, int64 labels): a plugin's int or float arrays pass when their values fit."""
    if isinstance(data, ImageFiles):
        labels = {f"y_{part}": as_labels(getattr(data, f"y_{part}"), f"dataset {spec} ({part})")
                  for part in ("train", "test")}
        for part, files in (("train", data.train_files), ("test", data.test_files)):
            if len(files) != len(labels[f"y_{part}"]):
                raise BadInput(f"dataset {spec}: {len(files)} {part} files but {len(labels[f'y_{part}'])} labels.")
        data = replace(data, **labels)
        if not data.fingerprint:  # a plugin that gave none: the files' own, so the store never mixes folders
            data = replace(data, fingerprint=fingerprint("/", [*data.train_files, *data.test_files],
                                                         np.concatenate([data.y_train, data.y_test])))
        return data.strictly() if strict else data
    checked = {}
    for part in ("train", "test"):
        x = as_pixels(getattr(data, f"x_{part}"), f"dataset {spec} ({part})")
        y = as_labels(getattr(data, f"y_{part}"), f"dataset {spec} ({part})")
        if x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise BadInput(f"dataset {spec}: {part} images must have the shape (N, H, W, 1 or 3), not {x.shape}.")
        if len(x) != len(y):
            raise BadInput(f"dataset {spec}: {len(x)} {part} images but {len(y)} labels.")
        checked.update({f"x_{part}": x, f"y_{part}": y})
    return replace(data, **checked)


def split_sizes(n_train: int, n_test: int, val_split: float, limit: int | None = None) -> tuple[int, int, int]:
    """Images in the train, validation and test splits: ``--limit`` caps the training set and the
    test set, and the first ``val_split`` of the training set is kept for validation."""
    n_train, n_test = (n if limit is None else min(n, limit) for n in (n_train, n_test))
    n_val = int(round(n_train * val_split))
    return n_train - n_val, n_val, n_test


def counts(data: ImageData | ImageFiles) -> tuple[int, int]:
    """Images in the dataset's training and test sets."""
    if isinstance(data, ImageFiles):
        return len(data.train_files), len(data.test_files)
    return len(data.x_train), len(data.x_test)


def check_splits(data: ImageData | ImageFiles, spec: str, val_split: float, limit: int | None = None,
                 batch_size: int | None = None) -> None:
    """BadInput when ``--limit`` and ``--val-split`` leave a split of ``data`` empty, or a batch
    (``--batch-size``) is larger than both the training split and the default batch (a small
    dataset trains in one partial batch of the default size, as Keras does)."""
    train, val, test = split_sizes(*counts(data), val_split, limit)
    if not (train and val and test):
        raise BadInput(f"{spec}: {train} train, {val} validation and {test} test images: raise --limit or "
                       "change --val-split so that none is empty.")
    largest = max(train, Recipe.batch_size)
    if batch_size is not None and batch_size > largest:
        raise BadInput(f"--batch-size {batch_size} is larger than {spec}'s training split ({train:,} images): "
                       f"give --batch-size {largest} or less.")


@dataclass
class Splits:
    """Train, validation and test images and labels; validation is the first part of the training
    set. The images are arrays (uint8, N x H x W x C) or, for files, ``FileView``s decoded on
    demand, whose ``image_shape`` is None: they take the trial's input size."""

    x_train: np.ndarray | FileView
    y_train: np.ndarray
    x_val: np.ndarray | FileView
    y_val: np.ndarray
    x_test: np.ndarray | FileView
    y_test: np.ndarray
    image_shape: tuple | None
    num_classes: int
    source: str = ""
    note: str = ""
    class_names: list = field(default_factory=list)
    channels: int = 3
    skipped: int = 0  # files the dataset left out as unreadable, before any decoding

    @property
    def streamed(self) -> bool:
        """Whether the images are files, decoded a batch at a time at the trial's size."""
        return self.image_shape is None

    def data_shape(self, size: int) -> tuple[int, int, int]:
        """The shape of one image as the model takes it when the trial's input size is ``size``."""
        return (size, size, self.channels) if self.streamed else tuple(self.image_shape)

    def failures_note(self) -> str | None:
        """One line naming the files that failed when they were decoded (truncated after a whole
        header), the first few and the count; None when there were none."""
        failed = [why for x in (self.x_train, self.x_val, self.x_test) if isinstance(x, FileView)
                  for why in x.failed.values()]
        if not failed:
            return None
        return f"{len(failed)} file(s) could not be decoded and were left out: {first_few(failed)}."

    def skipped_images(self) -> int:
        """Files left out as unreadable: those the dataset skipped and those that failed to decode."""
        views = [x for x in (self.x_train, self.x_val, self.x_test) if isinstance(x, FileView)]
        return self.skipped + sum(len(view.failed) for view in views)

    @classmethod
    def from_data(cls, data: ImageData | ImageFiles, val_split: float, limit: int | None = None) -> "Splits":
        train, n_val, test = split_sizes(*counts(data), val_split, limit)
        num_classes = max(len(data.class_names), int(data.y_train.max()) + 1)
        names = [str(c) for c in data.class_names] + [str(i) for i in range(len(data.class_names), num_classes)]
        y = data.y_train[:train + n_val]
        if isinstance(data, ImageFiles):
            return cls(data.view("train", n_val, train + n_val), y[n_val:], data.view("train", 0, n_val), y[:n_val],
                       data.view("test", 0, test), data.y_test[:test], None, num_classes, data.source, data.note,
                       names, data.channels, len(data.skipped))
        x = data.x_train[:train + n_val]
        return cls(x[n_val:], y[n_val:], x[:n_val], y[:n_val], data.x_test[:test], data.y_test[:test],
                   data.image_shape, num_classes, data.source, data.note, names, data.image_shape[-1])
