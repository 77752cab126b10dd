"""A synthetic dataset for offline demos and tests: ten classes of drawn shapes and textures.

Nothing is read or downloaded: the images are generated from a fixed seed, so
every run gets the same ones. Each class is a shape or texture (square, circle,
stripes, checkerboard, ...) with random position, size, phase and colour jitter on
a noisy background, plus a colour tint of its own. The tint is what lets even a
frozen, randomly initialised backbone (``--weights none``) separate the classes,
so ``zoo compare --all --dataset synthetic --weights none`` shows learning without
any download. It says nothing about how a backbone does on real images.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

import zoo
from zoo.core.card import Dataset
from zoo.data.datasets import ImageData

CLASS_NAMES = ("square", "circle", "triangle", "ring", "cross",
               "horizontal_stripes", "vertical_stripes", "diagonal_stripes", "checkerboard", "dots")
SIZE = 32
N_TRAIN, N_TEST = 1000, 250
SEED = 0
NOTE = "synthetic data: generated shapes, not real images"

# One hue per class, evenly round the colour wheel (RGB, 0-255).
_HUES = np.linspace(0, 1, len(CLASS_NAMES), endpoint=False)
TINTS = np.stack([np.clip(np.abs((_HUES * 6 + k) % 6 - 3) - 1, 0, 1) for k in (0, 4, 2)], axis=1) * 255


def _masks(label: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` boolean (SIZE, SIZE) masks of class ``label``, each at its own position, size and phase."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    cx, cy = (rng.uniform(10, SIZE - 10, (n, 1, 1)) for _ in range(2))
    r = rng.uniform(5, 10, (n, 1, 1))  # shape radius
    period = rng.uniform(4, 8, (n, 1, 1))  # texture period
    phase = rng.uniform(0, 8, (n, 1, 1))
    dx, dy = x - cx, y - cy
    distance = np.sqrt(dx**2 + dy**2)
    name = CLASS_NAMES[label]
    if name == "square":
        return (np.abs(dx) <= r) & (np.abs(dy) <= r)
    if name == "circle":
        return distance <= r
    if name == "triangle":  # apex up: it widens from cy - r to its base at cy + r
        return (dy >= -r) & (dy <= r) & (np.abs(dx) <= (dy + r) / 2)
    if name == "ring":
        return (distance <= r) & (distance >= r * 0.55)
    if name == "cross":
        arm = r / 3
        return ((np.abs(dx) <= arm) & (np.abs(dy) <= r)) | ((np.abs(dy) <= arm) & (np.abs(dx) <= r))
    if name == "horizontal_stripes":
        return (y + phase) % period < period / 2
    if name == "vertical_stripes":
        return (x + phase) % period < period / 2
    if name == "diagonal_stripes":
        return (x + y + phase) % period < period / 2
    if name == "checkerboard":
        return ((np.floor((x + phase) / period) + np.floor((y + phase) / period)) % 2) == 0
    # dots: a grid of small discs
    cell = period + 2
    u, v = (x + phase) % cell - cell / 2, (y + phase) % cell - cell / 2
    return u**2 + v**2 <= (cell / 4) ** 2


def draw(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 images (N, SIZE, SIZE, 3) of the given classes."""
    n = len(labels)
    # The background carries the class tint (brightness and colour jittered), the shape is drawn
    # dark on it: most pixels then tell the class apart even to random, untrained filters.
    tint = TINTS[labels][:, None, None, :]
    background = tint * rng.uniform(0.7, 1.0, (n, 1, 1, 1)) + rng.uniform(-25, 25, (n, 1, 1, 3))
    foreground = tint * 0.25 + rng.uniform(0, 30, (n, 1, 1, 3))
    masks = np.empty((n, SIZE, SIZE, 1), dtype=bool)
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        masks[where, :, :, 0] = _masks(int(label), len(where), rng)
    images = np.where(masks, foreground, background) + rng.normal(0, 12, (n, SIZE, SIZE, 3))
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def _balanced_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.arange(n) % len(CLASS_NAMES)).astype(np.int64)


def generate(n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = SEED) -> ImageData:
    """The synthetic splits, the same for the same arguments; every class equally often in each."""
    rng = np.random.default_rng(seed)
    y_train, y_test = _balanced_labels(n_train, rng), _balanced_labels(n_test, rng)
    x_train, x_test = draw(y_train, rng), draw(y_test, rng)
    return ImageData("synthetic", x_train, y_train, x_test, y_test, list(CLASS_NAMES),
                     source=f"generated (seed {seed})", note=NOTE)


def download(variant: Optional[str] = None) -> ImageData:
    """The card's ``download``: nothing is downloaded, the data is generated."""
    return generate()


@zoo.hookimpl
def register_datasets(register):
    register(Dataset(
        name="synthetic",
        num_classes=len(CLASS_NAMES),
        class_names=CLASS_NAMES,
        image_shape=(SIZE, SIZE, 3),
        load_local=None,
        download=download,
        generated=True,
        # Frozen random-weight backbones (--weights none, the offline case) give tiny features:
        # SGD at 1e-4 barely moves the head in two epochs, Adam's scale-free steps do.
        recipe={"optimizer": "adam", "lr": 1e-3},
        description=f"Synthetic shapes and textures, {len(CLASS_NAMES)} classes at {SIZE}x{SIZE} "
                    f"({N_TRAIN:,} train, {N_TEST:,} test), generated offline: for demos and tests, not benchmarks.",
    ))
