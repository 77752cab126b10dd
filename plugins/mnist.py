"""MNIST (as Keras caches it, ``mnist.npz``) and Fashion-MNIST (the original gzip IDX files).

Both are 28x28 grey images; they stay one channel here and zoo adapts them
inside the model. The .npz is opened with ``allow_pickle=False``, so a file can
hold arrays only, never code. IDX headers are checked (magic number, counts,
sizes) so that a wrong or cut-off file is named instead of misread.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import Optional

import numpy as np

import zoo
from zoo.core.card import Dataset
from zoo.data.datasets import ImageData, as_labels, as_pixels
from zoo.errors import BadInput, download_reason, one_line

KERAS_DATASETS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

MNIST_FILE = "mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"  # as Keras checks it
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")
MNIST_CLASSES = tuple(str(d) for d in range(10))

FASHION_SUBDIR = "fashion-mnist"  # under keras_home()/datasets, as keras.datasets.fashion_mnist uses
FASHION_FILES = {  # split -> (images, labels)
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FASHION_ALL = [f for pair in FASHION_FILES.values() for f in pair]
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

IDX_IMAGES_MAGIC = 2051  # big-endian int32: 0x00000803, unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 2049  # 0x00000801, unsigned bytes, 1 dimension


def _check_labels(labels: np.ndarray, classes: int, name: str) -> np.ndarray:
    if len(labels) and (labels.min() < 0 or labels.max() >= classes):
        raise BadInput(f"{name} has labels outside 0..{classes - 1}: it is not a {classes}-class label file.")
    return labels.astype(np.int64)


# MNIST from mnist.npz.

def read_mnist_npz(path: Path) -> ImageData:
    """The four arrays of one ``mnist.npz``, checked: images (N, 28, 28[, 1]) uint8, labels 0-9."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in MNIST_KEYS if k not in npz.files]
            if missing:
                raise BadInput(f"{path} lacks {', '.join(missing)}: an mnist.npz holds "
                               f"{', '.join(MNIST_KEYS)}; replace it with Keras's mnist.npz.")
            arrays = {k: npz[k] for k in MNIST_KEYS}
    except BadInput:
        raise
    except Exception as exc:  # not a zip, truncated, an object array (which would need pickle)...
        raise BadInput(f"{path} is not a valid mnist.npz ({one_line(exc, 'unreadable')}); "
                       "replace it with Keras's mnist.npz.") from None
    splits = {}
    for part in ("train", "test"):
        x = as_pixels(arrays[f"x_{part}"], f"{path} (x_{part})")
        y = as_labels(arrays[f"y_{part}"], f"{path} (y_{part})")
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise BadInput(f"{path}: x_{part} must be N images (N, H, W) and y_{part} N labels, "
                           f"not {x.shape} and {y.shape}.")
        splits[part] = x[..., None], _check_labels(y, 10, f"{path} (y_{part})")
    return ImageData("mnist", *splits["train"], *splits["test"], list(MNIST_CLASSES), str(path))


def load_mnist(path, variant: Optional[str] = None) -> ImageData:
    """MNIST from a folder holding ``mnist.npz``, or from the .npz file itself."""
    path = Path(path).expanduser()
    if path.is_dir():
        if not (path / MNIST_FILE).is_file():
            raise BadInput(f"{path} has no {MNIST_FILE}: give --data-dir a folder holding Keras's "
                           f"{MNIST_FILE}, or the .npz file itself.")
        path = path / MNIST_FILE
    elif not path.is_file():
        raise BadInput(f"--data-dir {path} does not exist: give a folder holding {MNIST_FILE}, or the file itself.")
    return read_mnist_npz(path)


def download_mnist(variant: Optional[str] = None) -> ImageData:
    """MNIST from Keras's cache (``keras_home()/datasets/mnist.npz``), downloading it when missing."""
    import keras

    from zoo.backbones.checks import keras_home

    cache = keras_home() / "datasets"
    if (cache / MNIST_FILE).is_file():
        return read_mnist_npz(cache / MNIST_FILE)
    origin = KERAS_DATASETS + MNIST_FILE
    try:
        # cache_dir: Keras reads KERAS_HOME once, at import; zoo's keras_home() reads it now.
        path = keras.utils.get_file(MNIST_FILE, origin=origin, file_hash=MNIST_SHA256,
                                    cache_subdir="datasets", cache_dir=str(keras_home()))
    except Exception as exc:
        raise BadInput(f"MNIST is not cached and could not be downloaded from {origin} ({download_reason(exc)}): "
                       f"put {MNIST_FILE} in {cache}/, or pass --data-dir DIR.") from None
    return read_mnist_npz(Path(path))


# Fashion-MNIST from gzip IDX files.

def _read_idx_bytes(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:  # not gzip, or cut off
        raise BadInput(f"{path} is not a readable gzip file ({type(exc).__name__}: {exc}); "
                       "replace it with the original download.") from None


def read_idx(path: Path, magic: int) -> np.ndarray:
    """One gzip IDX file: images (N, rows, cols) for magic 2051, labels (N,) for magic 2049."""
    data = _read_idx_bytes(path)
    header = 16 if magic == IDX_IMAGES_MAGIC else 8
    kind = "images" if magic == IDX_IMAGES_MAGIC else "labels"
    # The magic number first: a labels file in the images' place is shorter than an images header.
    found_magic = struct.unpack(">i", data[:4])[0] if len(data) >= 4 else None
    if found_magic is not None and found_magic != magic:
        raise BadInput(f"{path} is not an IDX {kind} file: magic number {found_magic}, expected {magic} "
                       "(are the images and labels files swapped?).")
    if len(data) < header:
        raise BadInput(f"{path} is truncated: {len(data)} bytes, shorter than an IDX {kind} header "
                       "(replace it with the original download).")
    count = struct.unpack(">i", data[4:8])[0]
    shape = (count, *struct.unpack(">ii", data[8:16])) if magic == IDX_IMAGES_MAGIC else (count,)
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "longer than its header says"
        raise BadInput(f"{path} is {problem}: {len(data)} bytes where its header "
                       f"({' x '.join(map(str, shape))}) needs {expected}; replace it with the original download.")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def read_fashion_folder(folder: Path) -> ImageData:
    """Fashion-MNIST's two splits from a folder holding its four IDX files."""
    missing = [f for f in FASHION_ALL if not (folder / f).is_file()]
    if missing:
        raise BadInput(f"{folder} lacks Fashion-MNIST files {', '.join(missing)}: give --data-dir a folder "
                       f"with {', '.join(FASHION_ALL)}.")
    splits = {}
    for part, (images_file, labels_file) in FASHION_FILES.items():
        images = read_idx(folder / images_file, IDX_IMAGES_MAGIC)
        labels = read_idx(folder / labels_file, IDX_LABELS_MAGIC)
        if len(images) != len(labels):
            raise BadInput(f"{folder}: {images_file} holds {len(images)} images but {labels_file} "
                           f"{len(labels)} labels; they must come from the same download.")
        splits[part] = images[..., None], _check_labels(labels, 10, str(folder / labels_file))
    return ImageData("fashion_mnist", *splits["train"], *splits["test"], list(FASHION_CLASSES), str(folder))


def load_fashion_mnist(path, variant: Optional[str] = None) -> ImageData:
    """Fashion-MNIST from a folder holding the four ``*-idx?-ubyte.gz`` files."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise BadInput(f"--data-dir {path} is not a folder: give the folder holding {', '.join(FASHION_ALL)}.")
    return read_fashion_folder(path)


def download_fashion_mnist(variant: Optional[str] = None) -> ImageData:
    """Fashion-MNIST from Keras's cache (``keras_home()/datasets/fashion-mnist``), downloading what is missing."""
    import keras

    from zoo.backbones.checks import keras_home

    cache = keras_home() / "datasets" / FASHION_SUBDIR
    try:
        for name in FASHION_ALL:  # get_file returns a cached file without downloading it again
            keras.utils.get_file(name, origin=KERAS_DATASETS + name, cache_subdir=f"datasets/{FASHION_SUBDIR}",
                                 cache_dir=str(keras_home()))
    except Exception as exc:
        raise BadInput(f"Fashion-MNIST is not cached and could not be downloaded from {KERAS_DATASETS} "
                       f"({download_reason(exc)}): put {', '.join(FASHION_ALL)} in {cache}/, "
                       "or pass --data-dir DIR.") from None
    return read_fashion_folder(cache)


@zoo.hookimpl
def register_datasets(register):
    register(Dataset(
        name="mnist",
        num_classes=10,
        class_names=MNIST_CLASSES,
        image_shape=(28, 28, 1),
        load_local=load_mnist,
        download=download_mnist,
        local_files=f"Keras's {MNIST_FILE} (a folder holding it, or the file)",
        description="MNIST: 70,000 28x28 grey handwritten digits (60,000 train, 10,000 test).",
        reference="https://yann.lecun.com/exdb/mnist/",
    ))
    register(Dataset(
        name="fashion_mnist",
        num_classes=10,
        class_names=FASHION_CLASSES,
        image_shape=(28, 28, 1),
        load_local=load_fashion_mnist,
        download=download_fashion_mnist,
        local_files=", ".join(FASHION_ALL),
        description="Fashion-MNIST: 70,000 28x28 grey images of clothing in 10 classes (60,000 train, 10,000 test).",
        reference="https://github.com/zalandoresearch/fashion-mnist",
    ))
