"""Frozen features: what determines them (the store's key), computing them batch by batch,
and training from them when they are memory-mapped.

``zoo compare`` (zoo.training.harness) and ``zoo rank`` (zoo.run.ranking) both get their features
through ``frozen_features``: from the store when an entry has the same key, computed and
stored otherwise (zoo.training.store), or held in memory alone with ``--no-store``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import math
import os
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from ..data.sources import DECODE_WORKERS, FileView, decoded_batches
from ..errors import BadInput, os_reason
from .store import Corrupt, FeatureStore, reserve

CHUNK_BATCHES = 64  # batches per predict call: progress moves, and memory holds one chunk of features
KEY_VERSION = 2  # raised when what is stored changes meaning: older entries become misses (2: resize)


_weights_hashes: dict = {}


def weights_id(weights: str | None) -> str:
    """``imagenet``, ``none`` (random weights from zoo's fixed backbone seed), a weights file by
    the hash of its content, or a preset folder by the hash of its files' names and contents."""
    if weights in (None, "imagenet"):
        return weights or "none"
    root = Path(weights)
    if not root.is_dir():
        return f"sha256:{_file_hash(root)}"
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + _file_hash(path).encode())
    return f"sha256:{digest.hexdigest()}"


def _file_hash(path: Path) -> str:
    """A file's SHA-256, remembered per path, size and modification time."""
    stat = path.stat()
    remembered = (str(path), stat.st_size, stat.st_mtime_ns)
    if remembered not in _weights_hashes:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                digest.update(block)
        _weights_hashes[remembered] = digest.hexdigest()
    return _weights_hashes[remembered]


def data_fingerprint(x: np.ndarray | FileView, y: np.ndarray) -> str:
    """A hash of the images' and labels' content: the same split of the same files, or a miss.
    Files go by their view's fingerprint (paths, sizes, modification times: zoo.data.sources), so an
    unchanged folder is a hit without reading one image."""
    if isinstance(x, FileView):
        return f"files:{x.fingerprint}"
    digest = hashlib.blake2b(digest_size=16)
    for array in (x, y):
        array = np.ascontiguousarray(array)
        digest.update(str((array.shape, array.dtype.str)).encode())
        digest.update(array.reshape(-1).view(np.uint8))
    return digest.hexdigest()


def preprocess_id(card, preprocess: bool, converter=None) -> str:
    """The preprocessing the model applies: off, the card's mode or callable, or a preset's own
    ``(scale, offset)`` (zoo.backbones.hub.image_converter), which replaces the card's."""
    if not preprocess:
        return "off"
    if converter:
        return f"scale {list(converter[0])} offset {list(converter[1])}"
    return card.preprocess if isinstance(card.preprocess, str) else f"{card.name}'s own"


def feature_key(assembled, *, weights, preprocess: bool, pooling: str, dataset: str, split: str,
                limit, val_split, x, y, resize: str) -> dict:
    """Everything that determines the features of ``x`` at the assembled model's cut (for a
    keras-hub card, keras-hub's version too: its layers compute them)."""
    converter = getattr(assembled.backbone, "zoo_image_converter", None)
    hub = {"keras_hub": importlib.metadata.version("keras-hub")} if assembled.card.requires == "hub" else {}
    return {"version": KEY_VERSION, "backbone": assembled.card.name, "resize": resize, **hub,
            "backbone_params": int(assembled.backbone.count_params()), "weights": weights_id(weights),
            "preprocess": preprocess_id(assembled.card, preprocess, converter), "input_size": assembled.input_size,
            "cut": assembled.cut, "pooling": pooling, "dataset": dataset, "split": split, "limit": limit,
            "val_split": None if split == "test" else val_split, "images": len(x),
            "data": data_fingerprint(x, y), "backend": keras.backend.backend(),
            "keras": keras.__version__}  # its initialisers draw random backbones, its layers compute


def frozen_features(extractor, x, y, key: dict, store: FeatureStore | None, *, batch_size: int, in_memory: bool,
                    progress=None, label: str = "features", say=print, resize: str = "crop") -> tuple[np.ndarray, str]:
    """``extractor``'s output for every image of ``x`` (an array, or files decoded a batch at a
    time by ``resize``), and where it came from: ``hit`` (the store had it), ``miss`` (computed
    and stored) or ``""`` (no store). With ``in_memory`` False the features stay memory-mapped,
    so they need not fit in memory. Files that failed to decode are in ``x.failed`` (from the
    store's entry on a hit); their rows hold no features (see ``kept``)."""
    shape = (len(x), *extractor.output.shape[1:])
    if store is None:
        if in_memory:
            features = np.empty(shape, np.float32)
        else:
            features = scratch_map(shape)
        extract(extractor, x, batch_size, features, progress, label, resize)
        return features, ""
    try:
        found = store.open(key)
    except Corrupt as exc:
        say(f"{key['backbone']}: {exc}.")
        found = None
    if found is not None:
        features, meta = found
        if isinstance(x, FileView):
            x.failed.update({int(k): v for k, v in meta.get("failed", {}).items()})
            if x.strict and x.failed:  # stored by a run without --strict: this one stops at them
                why = next(iter(x.failed.values()))
                raise BadInput(f"{why}: not a readable image; --strict stops at any bad file: replace or "
                               "remove it, or leave out --strict.")
        return (np.array(features) if in_memory else features), "hit"
    try:
        writer = store.writer(key, shape, y)
    except OSError as exc:  # a full disk or a read-only store: go on without it
        say(f"{key['backbone']}: the feature store at {store.root} cannot be written "
            f"({os_reason(exc)}); computing the features without it.")
        return frozen_features(extractor, x, y, key, None, batch_size=batch_size, in_memory=in_memory,
                               progress=progress, label=label, say=say, resize=resize)[0], ""
    try:
        extract(extractor, x, batch_size, writer.features, progress, label, resize)
    except BaseException:
        writer.abandon()
        raise
    features = writer.commit(say, {"failed": dict(x.failed)} if isinstance(x, FileView) else {})
    return (np.array(features) if in_memory else features), "miss"


def scratch_map(shape: tuple, dtype=np.float32) -> np.memmap:
    """A memory map on a file deleted as soon as it is made (it goes when the array does), its
    blocks reserved: a full disk is an error now, not a SIGBUS later."""
    scratch = tempfile.NamedTemporaryFile(suffix=".features", delete=False)
    features = np.memmap(scratch, dtype=dtype, mode="w+", shape=shape)
    reserve(Path(scratch.name))
    os.unlink(scratch.name)
    return features


def kept(features: np.ndarray, x, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``features`` and labels ``y`` without the rows of files that failed to decode (``x.failed``);
    as they are for arrays and for files that all decoded."""
    if not isinstance(x, FileView) or not x.failed:
        return features, y
    keep = x.kept()
    if not isinstance(features, np.memmap):
        return features[keep], np.asarray(y)[keep]
    # Memory-mapped because they do not fit in memory: compacted into a scratch map, by chunks.
    compact = scratch_map((len(keep), *features.shape[1:]), features.dtype)
    for start in range(0, len(keep), 4096):
        compact[start:start + 4096] = features[keep[start:start + 4096]]
    return compact, np.asarray(y)[keep]


def extract(extractor, x, batch_size: int, out: np.ndarray, progress=None, label: str = "features",
            resize: str = "crop") -> None:
    """Run ``extractor`` over ``x`` into ``out`` (an array or a memory map), a chunk of batches
    at a time: the features are written as they come, never all held at once. Files are
    decoded a batch at a time, the next batches in threads while the model runs on this one;
    the progress counts images and says images per second."""
    if isinstance(x, FileView):
        size, started = int(extractor.input.shape[1]), time.perf_counter()
        task = progress.add_task(label, total=len(x)) if progress is not None else None
        done = 0
        for start, images in decoded_batches(x, size, resize, batch_size):
            out[start:start + len(images)] = np.asarray(extractor.predict_on_batch(images))
            done += len(images)
            if task is not None:
                rate = done / max(time.perf_counter() - started, 1e-9)
                progress.update(task, advance=len(images), description=f"{label}: {done:,} images, {rate:,.0f}/s")
        return
    batches = math.ceil(len(x) / batch_size)
    task = progress.add_task(label, total=batches) if progress is not None else None
    chunk = batch_size * CHUNK_BATCHES
    for start in range(0, len(x), chunk):
        out[start:start + chunk] = extractor.predict(x[start:start + chunk], batch_size=batch_size, verbose=0)
        if task is not None:
            progress.advance(task, math.ceil(len(x[start:start + chunk]) / batch_size))


class FileBatches(keras.utils.PyDataset):
    """Batches of files decoded at ``size`` by ``resize``, with their labels and a sample weight
    (0 for a file that failed to decode, so it counts in neither the loss nor the accuracy), in
    a new order each epoch when ``shuffle``: Keras's own loader, its threads decoding ahead."""

    def __init__(self, view: FileView, y, batch_size: int, size: int, resize: str, shuffle: bool = False,
                 seed: int = 0):
        super().__init__(workers=DECODE_WORKERS, use_multiprocessing=False)
        self.view, self.y, self.batch_size, self.size, self.resize = view, np.asarray(y), batch_size, size, resize
        self.shuffle, self.rng = shuffle, np.random.default_rng(seed)
        self.order = self.rng.permutation(len(view)) if shuffle else np.arange(len(view))

    def __len__(self):
        return math.ceil(len(self.view) / self.batch_size)

    def __getitem__(self, index):
        batch = np.sort(self.order[index * self.batch_size:(index + 1) * self.batch_size])  # as MappedBatches
        images = self.view.decode(batch, self.size, self.resize)
        weights = np.array([0.0 if i in self.view.failed else 1.0 for i in batch], np.float32)
        return images, self.y[batch], weights

    def on_epoch_end(self):
        if self.shuffle:
            self.order = self.rng.permutation(len(self.view))


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
