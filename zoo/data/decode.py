"""Reading one image file as a backbone sees it: which files are images, every Pillow mode to grey
or RGB, EXIF orientation, transparency and 16-bit depth, and the resize policy.

The rules (the anchors: torchvision's ``ImageFolder`` for the formats, timm's eval transform
and Keras's ``image_dataset_from_directory`` for resizing):

- formats: ``EXTENSIONS``, any case; an animated file gives its first frame;
- hidden files and folders, macOS's ``._*`` and ``__MACOSX`` are not images, silently;
- transparency is composited onto ``BACKGROUND`` (white, as a page shows a transparent
  picture), never dropped: dropping it keeps whatever colour the invisible pixels hold;
- 16-bit images (``I;16``, ``I``) are scaled to 0-255 (65535 -> 255), not clipped; float
  images (``F``) are read as 0-1 when they lie there, else as 0-255;
- EXIF orientation is applied, so a phone photo stored sideways is seen upright;
- ``crop`` (the default) resizes the shorter side to the size and keeps the centre, as timm
  evaluates (crop_pct 1, Keras's ``crop_to_aspect_ratio``); ``squash`` ignores the aspect
  (Keras's default); ``pad`` fits the longer side and pads with black (``pad_to_aspect_ratio``).

Resampling is Pillow's bilinear filter, which averages over the whole footprint when it
shrinks (no aliasing); JPEGs are first decoded at a reduced scale (``Image.draft``) when
that still leaves at least the size asked, so a 4,000-pixel photo is never decoded whole
for a 224-pixel backbone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
RESIZE_POLICIES = ("crop", "squash", "pad")
BACKGROUND = 255  # white, per channel: where transparency is composited
PAD = 0  # black, as Keras's Resizing(pad_to_aspect_ratio=True) pads
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
SIXTEEN_BIT = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})


# What Pillow raises for a file that is not a whole image it can read; a missing or unreadable
# file (FileNotFoundError, PermissionError) is not among them: it is the folder, not the image.
_UNREADABLE = (UnidentifiedImageError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError, OSError)


class BadImage(Exception):
    """A file that is not a whole, readable image; its message says why in a few words."""


def is_image_name(path: Path) -> bool:
    """Whether ``path`` is taken as an image by its name: an image extension, not hidden, not
    a macOS ``._`` AppleDouble file."""
    name = path.name
    return not name.startswith(".") and path.suffix.lower() in EXTENSIONS


def is_ignored_folder(path: Path) -> bool:
    """Hidden folders and ``__MACOSX`` (what unzipping a Mac's archive leaves) hold no classes."""
    return path.name.startswith(".") or path.name == "__MACOSX"


def header(path) -> tuple[int, int, bool]:
    """``(width, height, grey)`` of an image from its header alone (upright: EXIF orientation
    applied to the size). Raises BadImage for an empty file, a non-image or a mode zoo cannot read."""
    try:
        with Image.open(path) as image:
            width, height, mode = *image.size, image.mode
            orientation = image.getexif().get(0x0112, 1)
    except (FileNotFoundError, PermissionError):
        raise  # the folder changed, or a worker sees another one: not a bad image
    except _UNREADABLE as exc:
        raise BadImage(_reason(exc)) from None
    if orientation in (5, 6, 7, 8):  # rotated a quarter turn: width and height swap
        width, height = height, width
    if mode not in GREY_MODES and _rgb_route(mode) is None:
        raise BadImage(f"its colour mode {mode} cannot be read")
    return width, height, mode in GREY_MODES


def decode(path, size: int, grey: bool, resize: str = "crop") -> np.ndarray:
    """The image at ``path`` as uint8 (size, size, 1 if ``grey`` else 3), upright, its
    transparency composited, resized by ``resize`` (one of RESIZE_POLICIES). Raises BadImage
    for a file that cannot be decoded whole (truncated, corrupt, empty)."""
    try:
        with Image.open(path) as image:
            image.seek(0)  # an animated file: its first frame
            image.draft("L" if grey else "RGB", _draft_size(image, size, resize))
            image = ImageOps.exif_transpose(image)  # loads it: a truncated file fails here
            image = _as_mode(image, grey)
    except (FileNotFoundError, PermissionError):
        raise  # the folder changed, or a worker sees another one: not a bad image
    except _UNREADABLE as exc:
        raise BadImage(_reason(exc)) from None
    pixels = np.asarray(_fit(image, size, resize))
    return pixels[..., None] if grey else pixels


def _reason(exc: Exception) -> str:
    if isinstance(exc, Image.DecompressionBombError):  # Pillow's guard against decompression bombs
        return f"too large to open ({str(exc).split(' exceeds')[0].lower()} exceeds Pillow's MAX_IMAGE_PIXELS)"
    text = str(exc).split(" (")[0].strip() or type(exc).__name__
    return "not an image Pillow can read" if isinstance(exc, UnidentifiedImageError) else text


def _draft_size(image, size: int, resize: str) -> tuple[int, int]:
    """The least size a reduced JPEG decode may give: both sides at least ``size`` (crop,
    squash) or the longer side at least ``size`` (pad)."""
    if resize != "pad":
        return size, size
    width, height = image.size
    scale = size / max(width, height)
    return max(1, int(width * scale)), max(1, int(height * scale))


def _rgb_route(mode: str) -> str | None:
    """How a colour mode reaches RGB: through RGBA (transparency), directly, or not at all."""
    if mode in ("RGBA", "RGBa", "PA", "P"):
        return "RGBA"
    if mode in ("RGB", "RGBX", "CMYK", "YCbCr", "HSV"):
        return "RGB"
    return None


def _as_mode(image: Image.Image, grey: bool) -> Image.Image:
    """``image`` as L (``grey``) or RGB, whatever its mode."""
    mode = image.mode
    if mode in SIXTEEN_BIT:
        image = Image.fromarray((np.clip(np.asarray(image, np.float64), 0, 65535) / 257).round().astype(np.uint8))
    elif mode == "F":
        values = np.nan_to_num(np.asarray(image, np.float64))
        scale = 255.0 if values.size and values.min() >= 0 and values.max() <= 1 else 1.0
        image = Image.fromarray(np.clip(values * scale, 0, 255).round().astype(np.uint8))
    elif mode == "1":
        image = image.convert("L")
    elif mode in ("L", "RGB") and "transparency" in image.info:  # a tRNS colour: transparent too
        image = image.convert("LA" if mode == "L" else "RGBA")
    elif mode == "P" and "transparency" not in image.info:
        image = image.convert("RGB")
    elif mode in ("LA", "La", "RGBa", "PA", "P"):
        image = image.convert("LA" if mode in ("LA", "La") else "RGBA")
    if image.mode in ("LA", "RGBA"):  # composite onto the background: alpha 0 shows it alone
        background = Image.new(image.mode[:-1], image.size, (BACKGROUND,) * (len(image.mode) - 1))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    if grey:
        return image.convert("L")
    return image if image.mode == "RGB" else image.convert("RGB")


def _fit(image: Image.Image, size: int, resize: str) -> Image.Image:
    """``image`` as ``size`` x ``size`` by the resize policy."""
    width, height = image.size
    if resize == "squash":
        return image.resize((size, size), Image.Resampling.BILINEAR)
    if resize == "crop":  # the centre square of the shorter side, in the source's own pixels (exact:
        # size / (size / side) is not always side in floating point, and a box a hair outside the
        # image, 382x500 photos' -2.8e-14, makes Pillow refuse it)
        side = min(width, height)
        left, top = (width - side) / 2, (height - side) / 2
        return image.resize((size, size), Image.Resampling.BILINEAR, box=(left, top, left + side, top + side))
    if resize == "pad":
        scale = size / max(width, height)
        inner = (max(1, round(width * scale)), max(1, round(height * scale)))
        canvas = Image.new(image.mode, (size, size), (PAD,) * len(image.getbands()))
        canvas.paste(image.resize(inner, Image.Resampling.BILINEAR),
                     ((size - inner[0]) // 2, (size - inner[1]) // 2))
        return canvas
    raise ValueError(f"resize {resize!r}: use one of {', '.join(RESIZE_POLICIES)}")
