"""Write small datasets in each built-in loader's original file format, with a learnable pattern.

The images' class is visible (each class has its own colour or brightness, on
noise), so a model trained on them learns something. Every writer returns what
it wrote, so tests can compare a loader's output with it exactly.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def learnable_images(labels, seed, size=32, channels=3, classes=10):
    """Images whose class is visible: each class has its own colour (its own grey level in one channel).

    ``size`` is the side of square images, or (height, width).
    """
    labels = np.asarray(labels)
    height, width = (size, size) if isinstance(size, int) else size
    rng = np.random.default_rng(seed)
    palette = np.random.default_rng(1234).integers(0, 256, (classes, 3))
    if channels == 1:
        palette = np.linspace(0, 255, classes)[:, None]
    images = rng.integers(0, 80, (len(labels), height, width, channels))
    images = images + palette[labels][:, None, None, :] * 0.7
    return np.clip(images, 0, 255).astype(np.uint8)


# CIFAR-10 and CIFAR-100: python-batch pickles, protocol 2, bytes keys, N x 3072 rows.

def _cifar_rows(images):
    # The format: N x 3072 uint8, all red values, then green, then blue, each row-major.
    return images.transpose(0, 3, 1, 2).reshape(len(images), 3072)


def _pickle(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def _batch(labels, seed, label):
    return {b"batch_label": label.encode(), b"labels": [int(v) for v in labels],
            b"data": _cifar_rows(learnable_images(labels, seed)),
            b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))]}


def write_cifar_batch(path, data, labels, label_key=b"labels"):
    """One CIFAR batch file holding exactly ``data`` and ``labels`` (of any type, to test the checks)."""
    _pickle(path, {b"batch_label": b"a batch", label_key: labels, b"data": data,
                   b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))]})


def write_cifar10(folder, n_train=100, n_test=40, seed=0):
    """``n_train`` images over data_batch_1..5, ``n_test`` in test_batch, and batches.meta."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train_labels = rng.integers(0, 10, n_train)
    for i, part in enumerate(np.array_split(train_labels, 5), start=1):
        _pickle(folder / f"data_batch_{i}", _batch(part, seed + i, f"training batch {i} of 5"))
    _pickle(folder / "test_batch", _batch(rng.integers(0, 10, n_test), seed + 99, "testing batch 1 of 1"))
    _pickle(folder / "batches.meta", {b"label_names": [n.encode() for n in CLASS_NAMES],
                                      b"num_cases_per_batch": n_train // 5, b"num_vis": 3072})
    return folder


CIFAR100_FINE = [f"fine_{i:02d}" for i in range(100)]
CIFAR100_COARSE = [f"coarse_{i:02d}" for i in range(20)]


def write_cifar100(folder, n_train=60, n_test=20, seed=0):
    """``cifar-100-python``'s train, test and meta; returns {"train"/"test": (images, fine, coarse)}.

    Coarse labels are fine // 5, a stand-in for the real superclass mapping.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    for split, n in (("train", n_train), ("test", n_test)):
        fine = rng.integers(0, 100, n)
        coarse = fine // 5
        images = learnable_images(coarse, seed + len(written), classes=20)
        _pickle(folder / split, {b"filenames": [f"{split}_{i}.png".encode() for i in range(n)],
                                 b"batch_label": f"{split}ing batch 1 of 1".encode(),
                                 b"fine_labels": [int(v) for v in fine], b"coarse_labels": [int(v) for v in coarse],
                                 b"data": _cifar_rows(images)})
        written[split] = (images, fine, coarse)
    _pickle(folder / "meta", {b"fine_label_names": [n.encode() for n in CIFAR100_FINE],
                              b"coarse_label_names": [n.encode() for n in CIFAR100_COARSE]})
    return written


# MNIST as Keras caches it, and Fashion-MNIST's gzip IDX files.

def _grey_split(n, rng, seed, size=28):
    labels = rng.integers(0, 10, n)
    return learnable_images(labels, seed, size=size, channels=1)[..., 0], labels


def write_mnist_npz(path, n_train=50, n_test=20, seed=0):
    """An ``mnist.npz`` (x_train (N, 28, 28) uint8, y_train, x_test, y_test); returns the arrays."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x_train, y_train = _grey_split(n_train, rng, seed)
    x_test, y_test = _grey_split(n_test, rng, seed + 1)
    arrays = {"x_train": x_train, "y_train": y_train.astype(np.uint8),
              "x_test": x_test, "y_test": y_test.astype(np.uint8)}
    np.savez(path, **arrays)
    return arrays


FASHION_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                 "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def idx_bytes(array):
    """The IDX encoding of a uint8 array: magic 2051 (3-D images) or 2049 (labels), big-endian dims."""
    array = np.asarray(array, dtype=np.uint8)
    magic = {3: 2051, 1: 2049}[array.ndim]
    return struct.pack(f">i{array.ndim}i", magic, *array.shape) + array.tobytes()


def write_fashion_idx(folder, n_train=50, n_test=20, seed=0):
    """Fashion-MNIST's four gzip IDX files; returns {"train"/"test": (images (N, 28, 28), labels)}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = _grey_split(n, rng, seed + len(written))
        images_file, labels_file = FASHION_FILES[split]
        (folder / images_file).write_bytes(gzip.compress(idx_bytes(images)))
        (folder / labels_file).write_bytes(gzip.compress(idx_bytes(labels)))
        written[split] = (images, labels)
    return written


# A folder of PNG images, one sub-folder per class.

def write_image_folder(folder, classes=("cat", "dog", "fox"), per_class=5, size=(12, 16), grey=False,
                       splits=False, seed=0):
    """PNG files ``folder[/train|/test]/CLASS/NNN.png``; returns {split: (images, labels)} in sorted order.

    Without ``splits`` everything is under the key ``"all"``; with it, ``per_class`` images per
    class go to train and ``max(1, per_class // 2)`` to test. ``size`` is (height, width).
    """
    from PIL import Image

    folder = Path(folder)
    rng = np.random.default_rng(seed)
    parts = {"train": per_class, "test": max(1, per_class // 2)} if splits else {"all": per_class}
    written = {}
    for split, n in parts.items():
        root = folder / split if splits else folder
        images, labels = [], []
        for label, name in enumerate(sorted(classes)):
            (root / name).mkdir(parents=True, exist_ok=True)
            pictures = learnable_images(np.full(n, label), rng.integers(1 << 30), size=size,
                                        channels=1 if grey else 3, classes=len(classes))
            for i, picture in enumerate(pictures):
                Image.fromarray(picture[..., 0] if grey else picture).save(root / name / f"{i:03d}.png")
            images.append(pictures)
            labels.append(np.full(n, label))
        written[split] = (np.concatenate(images), np.concatenate(labels))
    return written


# A TensorFlow Datasets dataset, written with TFDS's own API.

def write_tfds(data_dir, name="zoo_tiny_images", classes=("cat", "dog", "fox"), n_train=24, n_test=9, size=16,
               seed=0):
    """A prepared TFDS dataset (TFRecord shards, dataset_info.json) in ``data_dir``, written by
    ``store_as_tfds_dataset`` as ``tfds build`` would leave it; returns {split: (images, labels)}
    in TFDS's order."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.dataset_builders.adhoc_builder import store_as_tfds_dataset

    rng = np.random.default_rng(seed)
    written, splits = {}, {}
    for split, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % len(classes)
        images = learnable_images(labels, rng.integers(1 << 30), size=size, classes=len(classes))
        written[split] = (images, labels)
        splits[split] = [(f"{split}-{i}", {"image": image, "label": int(label)})  # (key, example)
                         for i, (image, label) in enumerate(zip(images, labels))]
    features = tfds.features.FeaturesDict({"image": tfds.features.Image(shape=(size, size, 3)),
                                           "label": tfds.features.ClassLabel(names=list(classes))})
    store_as_tfds_dataset(name=name, version="1.0.0", features=features, split_datasets=splits,
                          data_dir=str(data_dir), disable_shuffling=True)
    return written
