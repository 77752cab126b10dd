"""What a backbone can take, checked before anything is built: an input size against its card, and
a weights file by its format. No Keras here, so that a plan refuses bad input at once."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import BadInput


def keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"  # a .keras file is a zip; Keras's load_weights reads its weights


def valid_weights(backbone: str) -> str:
    return f"a Keras weights file saved from {backbone} by `model.save_weights(...)` (.weights.h5, or a legacy .h5)"


def _has_signature(path: Path, signature: bytes, offsets=(0,)) -> bool:
    with path.open("rb") as f:
        for offset in offsets:
            f.seek(offset)
            if f.read(len(signature)) == signature:
                return True
    return False


def check_weights_file(weights: str | None, backbone: str | None = None) -> str | None:
    """``--weights``: None and "imagenet" as they are; a path, expanded, once it is a file Keras can read."""
    if weights in (None, "imagenet"):
        return weights
    path = Path(weights).expanduser()
    if not path.exists():
        problem = "not found"
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
        backbone = backbone or "the backbone"
        raise BadInput(f"weights file {weights} {problem} for {backbone}: give {valid_weights(backbone)}, "
                       "or use --weights imagenet or --weights none.")
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


def trial_input_size(card, given: int | None, image_shape) -> int:
    """The size a trial feeds ``card``: ``--input-size`` when given; else, for images held as
    arrays, their own size (the longer side), and for files (``image_shape`` None: decoded at
    whatever size the trial asks) the card's default, the size its weights were trained at;
    either raised to the backbone's minimum."""
    if given:
        return given
    own = card.default_input_size if image_shape is None else max(image_shape[:2])
    return max(own, card.min_input_size)


def check_input_size(card, size: int) -> None:
    """``--input-size``: at least the backbone's minimum, said before anything is built."""
    if size < card.min_input_size:
        raise BadInput(f"input size {size} is below {card.name}'s minimum of {card.min_input_size}; "
                       f"use --input-size {card.min_input_size} or more.")
