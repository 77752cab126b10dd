"""Write small CIFAR-10 folders in the original python-batch format, with a learnable pattern."""

import pickle
from pathlib import Path

import numpy as np

CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def learnable_images(labels, seed):
    """Images whose class is visible: each class has its own colour, on noise."""
    rng = np.random.default_rng(seed)
    palette = np.random.default_rng(1234).integers(0, 256, (10, 3))
    images = rng.integers(0, 80, (len(labels), 32, 32, 3))
    images = images + palette[labels][:, None, None, :] * 0.7
    return np.clip(images, 0, 255).astype(np.uint8)


def _batch(labels, seed, label):
    images = learnable_images(labels, seed)
    # The format: N x 3072 uint8, all red values, then green, then blue, each row-major.
    data = images.transpose(0, 3, 1, 2).reshape(len(labels), 3072)
    return {b"batch_label": label.encode(), b"labels": [int(v) for v in labels], b"data": data,
            b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))]}


def write_cifar10(folder, n_train=100, n_test=40, seed=0):
    """``n_train`` images over data_batch_1..5, ``n_test`` in test_batch, and batches.meta."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train_labels = rng.integers(0, 10, n_train)
    for i, part in enumerate(np.array_split(train_labels, 5), start=1):
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump(_batch(part, seed + i, f"training batch {i} of 5"), f, protocol=2)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump(_batch(rng.integers(0, 10, n_test), seed + 99, "testing batch 1 of 1"), f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [n.encode() for n in CLASS_NAMES],
                     b"num_cases_per_batch": n_train // 5, b"num_vis": 3072}, f, protocol=2)
    return folder
