"""What a backbone can take, checked before anything is built: an input size against its card, a
weights file or preset folder by its format, a pooling by the card's output, and the extra a card
needs. No Keras here, so that a plan refuses bad input at once."""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

from ..core.card import EXTRAS, poolings_for
from ..errors import BadInput


def keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"  # a .keras file is a zip; Keras's load_weights reads its weights


# A keras-hub preset folder, in the three formats Backbone.from_preset reads offline.
PRESET_FILES = ("config.json with model.weights.h5 (keras-hub's save_to_preset), or config.json with "
                "model.safetensors (Hugging Face transformers or timm)")


def valid_weights(backbone: str, folder: bool = False) -> str:
    if folder:
        return f"a folder with the preset of {backbone}: {PRESET_FILES}"
    return f"a Keras weights file saved from {backbone} by `model.save_weights(...)` (.weights.h5, or a legacy .h5)"


def missing_packages(card) -> list[str]:
    """The packages ``card`` needs (its extra's, zoo.core.card.EXTRAS) that are not installed; found
    without importing them, so that `zoo list` stays fast."""
    return [m.replace("_", "-") for m in EXTRAS.get(card.requires, ()) if importlib.util.find_spec(m) is None]


def check_extra(card) -> None:
    """BadInput naming the extra to install when ``card`` needs packages that are not installed."""
    missing = missing_packages(card)
    if missing:
        raise BadInput(f'{card.name} needs {", ".join(missing)}: pip install "zoo[{card.requires}]".')


def check_pooling(card, pooling: str) -> None:
    """``--pooling``: one that fits the backbone's output (zoo.core.card.POOLINGS_FOR); BadInput otherwise."""
    fits = poolings_for(card)
    if pooling != "recommended" and pooling not in fits:
        raise BadInput(f"--pooling {pooling} does not fit {card.name}, whose output is {card.output}"
                       f"{' without a CLS token' if pooling == 'cls' and card.output == 'tokens' else ''}: "
                       f"use {' or '.join(fits)}, or leave --pooling out.")


def _has_signature(path: Path, signature: bytes, offsets=(0,)) -> bool:
    with path.open("rb") as f:
        for offset in offsets:
            f.seek(offset)
            if f.read(len(signature)) == signature:
                return True
    return False


def _preset_problem(path: Path) -> str | None:
    if not (path / "config.json").is_file():
        return "has no config.json"
    if not any((path / name).is_file() for name in ("model.weights.h5", "model.safetensors")):
        return "has config.json but neither model.weights.h5 nor model.safetensors"
    return None


def check_weights_file(weights: str | None, card=None) -> str | None:
    """``--weights``: None and "imagenet" as they are; a path, expanded, once it is a file Keras can
    read, or for a card with ``weights_folder`` a keras-hub preset folder (PRESET_FILES)."""
    if weights in (None, "imagenet"):
        return weights
    backbone, folder = (card.name, card.weights_folder) if card is not None else ("the backbone", False)
    path = Path(weights).expanduser()
    if not path.exists():
        problem = "not found"
    elif folder:
        problem = _preset_problem(path) if path.is_dir() else "is a file, not a preset folder"
    elif path.is_dir():
        problem = "is a folder"
    elif path.name.endswith(".keras"):
        problem = None if _has_signature(path, ZIP_SIGNATURE) else "is not a .keras (zip) file"
    elif path.suffix not in (".h5", ".hdf5"):
        problem = "is not a .weights.h5, .h5 or .keras file"  # Keras goes by the name
    else:
        # HDF5 puts its signature at byte 0, or after a user block of 512, 1024, 2048... bytes.
        offsets = (0, *(512 << n for n in range(20)))
        problem = None if _has_signature(path, HDF5_SIGNATURE, offsets) else "is not an HDF5 file"
    if problem:
        raise BadInput(f"weights {'folder' if folder else 'file'} {weights} {problem} for {backbone}: give "
                       f"{valid_weights(backbone, folder)}, or use --weights imagenet or --weights none.")
    return str(path)


def check_batch_fits(batch_size: int, size: int, channels: int = 3, what: str = "a batch") -> None:
    """BadInput when one batch of ``batch_size`` float32 images of ``size`` x ``size`` x ``channels``
    (the input tensor alone, before any activation) would not fit in the memory available now,
    naming the largest batch that would."""
    import psutil  # here: the faces import this module for `zoo --help`

    image = size * size * channels * 4
    available = psutil.virtual_memory().available
    if batch_size * image > available:
        raise BadInput(f"--batch-size {batch_size}: {what} of {batch_size:,} images of {size}x{size} needs "
                       f"{batch_size * image / 2**30:,.1f} GB, and {available / 2**30:,.1f} GB is available: "
                       f"give --batch-size {max(available // image, 1):,} or less.")


def pretrained(weights: str | None) -> bool:
    """Whether ``--weights`` loads weights (imagenet, a file or a folder) rather than none."""
    return weights is not None and weights != "none"


def trial_input_size(card, given: int | None, image_shape, weights: str | None = None) -> int:
    """The size a trial feeds ``card``: ``--input-size`` when given; else the size pretrained
    weights load at, for a card that has one (``weights_size``); else, for images held as
    arrays, their own size (the longer side), and for files (``image_shape`` None: decoded at
    whatever size the trial asks) the card's default, the size its weights were trained at;
    either raised to the backbone's minimum, then up to its size multiple (its patch grid)."""
    if given:
        return given
    if card.weights_size and pretrained(weights):
        return card.weights_size
    own = card.default_input_size if image_shape is None else max(image_shape[:2])
    return math.ceil(max(own, card.min_input_size) / card.size_multiple) * card.size_multiple


def check_input_size(card, size: int, weights: str | None = None) -> None:
    """``--input-size``: at least the backbone's minimum, a multiple of its patch grid, and the
    size its pretrained weights load at where they load at one size; said before anything is built.
    Refused, not rounded: the size given is the size the table reports."""
    if size < card.min_input_size:
        raise BadInput(f"input size {size} is below {card.name}'s minimum of {card.min_input_size}; "
                       f"use --input-size {card.min_input_size} or more.")
    step = card.size_multiple
    if size % step:
        below, above = size // step * step, (size // step + 1) * step
        sizes = f"{below} or {above}" if below >= card.min_input_size else f"{above}"
        raise BadInput(f"input size {size} is not a multiple of {step} for {card.name} (its patch grid): "
                       f"use --input-size {sizes}.")
    if card.weights_size and weights == "imagenet" and size != card.weights_size:
        raise BadInput(f"input size {size}: {card.name}'s pretrained weights load at {card.weights_size} alone "
                       f"(position embeddings for one patch grid): use --input-size {card.weights_size} (images are "
                       "resized inside the model), or --weights none.")
