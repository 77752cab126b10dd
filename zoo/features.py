"""Frozen features: what determines them (the store's key), computing them batch by batch,
and training from them when they are memory-mapped.

``zoo compare`` (zoo.harness) and ``zoo rank`` (zoo.ranking) both get their features
through ``frozen_features``: from the store when an entry has the same key, computed and
stored otherwise (zoo.store), or held in memory alone with ``--no-store``.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from pathlib import Path

import keras
import numpy as np

from .errors import os_reason
from .store import Corrupt, FeatureStore, reserve

CHUNK_BATCHES = 64  # batches per predict call: progress moves, and memory holds one chunk of features
KEY_VERSION = 1  # raised when what is stored changes meaning: older entries become misses


_weights_hashes: dict = {}


def weights_id(weights: str | None) -> str:
    """``imagenet``, ``none`` (random weights from zoo's fixed backbone seed), or a weights file
    by the hash of its content (remembered per path, size and modification time)."""
    if weights in (None, "imagenet"):
        return weights or "none"
    stat = os.stat(weights)
    remembered = (weights, stat.st_size, stat.st_mtime_ns)
    if remembered not in _weights_hashes:
        digest = hashlib.sha256()
        with open(weights, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                digest.update(block)
        _weights_hashes[remembered] = f"sha256:{digest.hexdigest()}"
    return _weights_hashes[remembered]


def data_fingerprint(x: np.ndarray, y: np.ndarray) -> str:
    """A hash of the images' and labels' content: the same split of the same files, or a miss."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (x, y):
        array = np.ascontiguousarray(array)
        digest.update(str((array.shape, array.dtype.str)).encode())
        digest.update(array.reshape(-1).view(np.uint8))
    return digest.hexdigest()


def preprocess_id(card, preprocess: bool) -> str:
    if not preprocess:
        return "off"
    return card.preprocess if isinstance(card.preprocess, str) else f"{card.name}'s own"


def feature_key(assembled, *, weights, preprocess: bool, pooling: str, dataset: str, split: str,
                limit, val_split, x, y) -> dict:
    """Everything that determines the features of ``x`` at the assembled model's cut."""
    return {"version": KEY_VERSION, "backbone": assembled.card.name,
            "backbone_params": int(assembled.backbone.count_params()), "weights": weights_id(weights),
            "preprocess": preprocess_id(assembled.card, preprocess), "input_size": assembled.input_size,
            "cut": assembled.cut, "pooling": pooling, "dataset": dataset, "split": split, "limit": limit,
            "val_split": None if split == "test" else val_split, "images": len(x),
            "data": data_fingerprint(x, y), "backend": keras.backend.backend(),
            "keras": keras.__version__}  # its initialisers draw random backbones, its layers compute


def frozen_features(extractor, x, y, key: dict, store: FeatureStore | None, *, batch_size: int, in_memory: bool,
                    progress=None, label: str = "features", say=print) -> tuple[np.ndarray, str]:
    """``extractor``'s output for every image of ``x``, and where it came from: ``hit`` (the
    store had it), ``miss`` (computed and stored) or ``""`` (no store). With ``in_memory``
    False the features stay memory-mapped, so they need not fit in memory."""
    shape = (len(x), *extractor.output.shape[1:])
    if store is None:
        if in_memory:
            features = np.empty(shape, np.float32)
        else:  # a file deleted as soon as it is made: it goes when the array does
            scratch = tempfile.NamedTemporaryFile(suffix=".features", delete=False)
            features = np.memmap(scratch, dtype=np.float32, mode="w+", shape=shape)
            reserve(Path(scratch.name))  # a full disk: an error now, not a SIGBUS later
            os.unlink(scratch.name)
        extract(extractor, x, batch_size, features, progress, label)
        return features, ""
    try:
        found = store.open(key)
    except Corrupt as exc:
        say(f"{key['backbone']}: {exc}.")
        found = None
    if found is not None:
        features = found[0]
        return (np.array(features) if in_memory else features), "hit"
    try:
        writer = store.writer(key, shape, y)
    except OSError as exc:  # a full disk or a read-only store: go on without it
        say(f"{key['backbone']}: the feature store at {store.root} cannot be written "
            f"({os_reason(exc)}); computing the features without it.")
        return frozen_features(extractor, x, y, key, None, batch_size=batch_size, in_memory=in_memory,
                               progress=progress, label=label, say=say)[0], ""
    try:
        extract(extractor, x, batch_size, writer.features, progress, label)
    except BaseException:
        writer.abandon()
        raise
    features = writer.commit(say)
    return (np.array(features) if in_memory else features), "miss"


def extract(extractor, x, batch_size: int, out: np.ndarray, progress=None, label: str = "features") -> None:
    """Run ``extractor`` over ``x`` into ``out`` (an array or a memory map), a chunk of batches
    at a time: the features are written as they come, never all held at once."""
    batches = math.ceil(len(x) / batch_size)
    task = progress.add_task(label, total=batches) if progress is not None else None
    chunk = batch_size * CHUNK_BATCHES
    for start in range(0, len(x), chunk):
        out[start:start + chunk] = extractor.predict(x[start:start + chunk], batch_size=batch_size, verbose=0)
        if task is not None:
            progress.advance(task, math.ceil(len(x[start:start + chunk]) / batch_size))


class MappedBatches(keras.utils.PyDataset):
    """Batches read from memory-mapped features (in a new order each epoch when ``shuffle``), so
    that training never holds them all; the batch's indices are sorted so reads run forward."""

    def __init__(self, x, y, batch_size: int, shuffle: bool = False, seed: int = 0):
        super().__init__()
        self.x, self.y, self.batch_size, self.shuffle = x, np.asarray(y), batch_size, shuffle
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x)) if shuffle else np.arange(len(x))

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        batch = np.sort(self.order[index * self.batch_size:(index + 1) * self.batch_size])
        return np.asarray(self.x[batch]), self.y[batch]

    def on_epoch_end(self):
        if self.shuffle:
            self.order = self.rng.permutation(len(self.x))
