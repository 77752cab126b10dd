"""Loading a dataset: the arrays a loader returns and ``load_dataset("name[:argument]")``.

Datasets are plugins like backbones: a plugin implements ``register_datasets``
and calls ``register(zoo.Dataset(...))`` (the card is in zoo.card). zoo's own
(cifar10, cifar100, mnist, fashion_mnist, folder, synthetic) live in ``plugins/``
and register the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .errors import BadInput

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
        raise BadInput(f"{where}: pixel values must be 0-255, found {bad.flat[0]:g}.")
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


def reads_data_dir(spec: str) -> bool:
    """Whether ``--data-dir`` means anything to this dataset (``synthetic`` is generated and
    ``folder:PATH`` names its own folder), so a grid of datasets can pass it to those alone."""
    from .registry import get_dataset

    card = get_dataset(split_spec(spec)[0])
    return card.load_local is not None and not card.path_argument


def load_dataset(spec: str, data_dir=None) -> ImageData:
    """The splits of ``--dataset spec`` (``name`` or ``name:argument``), checked for sense."""
    from .registry import get_dataset

    name, argument = split_spec(spec)
    card = get_dataset(name)
    if card.path_argument:
        if not argument:
            raise BadInput(f"--dataset {name} needs a folder: --dataset {name}:PATH.")
        if data_dir is not None:
            raise BadInput(f"--dataset {name}:PATH reads PATH; leave out --data-dir.")
        data = card.load_local(Path(argument).expanduser(), None)
    else:
        variant = argument
        if variant is not None and variant not in card.variants:
            takes = f"takes {', '.join(card.variants)}" if card.variants else "takes no ':' argument"
            raise BadInput(f"--dataset {spec}: {name} {takes}.")
        variant = variant or (card.variants[0] if card.variants else None)
        if data_dir is not None:
            if card.load_local is None:
                raise BadInput(f"dataset {name} cannot be read from --data-dir; leave it out.")
            data = card.load_local(Path(data_dir).expanduser(), variant)
        elif card.download is None:
            raise BadInput(f"dataset {name} has no download: pass --data-dir with {card.local_files or 'its files'}.")
        else:
            data = card.download(variant)
    return check(data, spec)


def check(data: ImageData, spec: str) -> ImageData:
    """Labels and images a loader returned, checked and given the types the harness expects
    (uint8 images, int64 labels): a plugin's int or float arrays pass when their values fit."""
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
