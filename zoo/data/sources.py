"""Image files as a dataset: where each image is, decoded only when a batch is needed.

``ImageFiles`` describes a dataset of files (the folder loader makes one): the files of each
split and their labels, the class names, whether the whole folder is grey, the files skipped
as unreadable and a fingerprint. It is small (paths and labels), so executors hand it to
trial processes and Ray workers, who read the images themselves. ``FileView`` is one split of
it; ``decoded_batches`` decodes a view a batch at a time, a few batches ahead in threads, at
the size the trial's backbone takes (zoo.data.decode holds the rules for one file).

The fingerprint is a hash of every file's relative path, size and modification time, not of
its content: it costs one ``stat`` per file, where hashing 300,000 photos would read them all
on every run. A file edited, replaced, added or removed changes it; a copy that keeps
modification times (``cp -p``, ``rsync -a``) keeps it.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import BadInput
from . import records
from .decode import BadImage, decode, header

DECODE_WORKERS = min(8, os.cpu_count() or 1)  # threads: Pillow decodes and resizes without the GIL
SHOWN_SKIPPED = 3  # bad files named in the one warning; all are listed in the output folder


def first_few(items: list[str]) -> str:
    """The first SHOWN_SKIPPED of ``items``, and how many more: a warning names a few, not thousands."""
    more = f" and {len(items) - SHOWN_SKIPPED} more" if len(items) > SHOWN_SKIPPED else ""
    return "; ".join(items[:SHOWN_SKIPPED]) + more


def strict_refusal(path, why, more: str = "") -> BadInput:
    """What --strict says of the first file that is not a readable image (``more``: how many)."""
    return BadInput(f"{path} is not a readable image ({why}); --strict stops at any bad file: replace or "
                    f"remove it{more}, or leave out --strict.")


@dataclass(frozen=True)
class Scanned:
    """What the headers of a folder's image files say, read without decoding any."""

    readable: list[Path]
    skipped: list[tuple[str, str]]  # (path, why)
    grey: bool  # every readable image grey: the dataset is one channel
    sizes: list[tuple[int, int]]  # (width, height) of each readable one, upright


def scan(files: list[Path]) -> Scanned:
    """The files whose headers read as images, and those skipped with why; whether all are grey
    (any colour image makes the folder RGB, whatever the order of the files)."""
    readable, skipped, grey, sizes = [], [], True, []
    for path in files:
        size, is_grey, why = scan_one(path)
        if why:
            skipped.append((str(path), why))
            continue
        readable.append(path)
        grey = grey and is_grey
        sizes.append(size)
    return Scanned(readable, skipped, grey, sizes)


def scan_one(item) -> tuple[tuple[int, int] | None, bool, str | None]:
    """``((width, height), grey, None)`` from an image's header (a file, or a record: zoo.data.records),
    or ``(None, False, why)`` when it is not a readable image."""
    try:
        width, height, grey = header(_opened(str(item)))
    except (BadImage, OSError) as exc:
        return None, False, str(exc)
    return (width, height), grey, None


def median_size(sizes) -> tuple[int, int] | None:
    """The median width and height of ``sizes`` ((width, height) pairs), None for none."""
    return tuple(int(v) for v in np.median(np.array(sizes), axis=0)) if len(sizes) else None


def fingerprint(root: Path, files, labels) -> str:
    """A hash of each file's path relative to ``root``, size and modification time, and its label."""
    digest = hashlib.blake2b(digest_size=16)
    for path, label in zip(files, np.asarray(labels).tolist()):
        stat = os.stat(path)
        digest.update(f"{os.path.relpath(path, root)}\0{stat.st_size}\0{stat.st_mtime_ns}\0{label}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class ImageFiles:
    """A dataset of image files: the splits as paths and integer labels, decoded on demand."""

    name: str
    train_files: tuple[str, ...]
    y_train: np.ndarray
    test_files: tuple[str, ...]
    y_test: np.ndarray
    class_names: list[str]
    source: str  # where it was read from, for the results
    grey: bool = False  # every image grey: one channel
    skipped: tuple[tuple[str, str], ...] = ()  # (path, why) of files that are not readable images
    median_size: tuple[int, int] | None = None  # (width, height) of the images, for the plan
    fingerprint: str = ""  # zoo.data.sources.fingerprint of both splits: the feature store's key
    note: str = ""
    strict: bool = False  # --strict: a file that cannot be decoded stops the run

    @property
    def channels(self) -> int:
        return 1 if self.grey else 3

    @property
    def image_shape(self) -> None:
        """None: files have no one shape; each trial decodes them at its own input size."""
        return None

    def to_json(self) -> dict:
        return {**{k: getattr(self, k) for k in ("name", "class_names", "source", "grey", "fingerprint",
                                                 "note", "strict")},
                "train_files": list(self.train_files), "test_files": list(self.test_files),
                "y_train": self.y_train.tolist(), "y_test": self.y_test.tolist(),
                "skipped": [list(s) for s in self.skipped],
                "median_size": None if self.median_size is None else list(self.median_size)}

    @classmethod
    def from_json(cls, data: dict) -> "ImageFiles":
        return cls(**{**data, "train_files": tuple(data["train_files"]), "test_files": tuple(data["test_files"]),
                      "y_train": np.array(data["y_train"], np.int64), "y_test": np.array(data["y_test"], np.int64),
                      "skipped": tuple(tuple(s) for s in data["skipped"]),
                      "median_size": None if data["median_size"] is None else tuple(data["median_size"])})

    def strictly(self) -> "ImageFiles":
        """BadInput naming the first skipped file (--strict); otherwise the same, made strict."""
        if self.skipped:
            raise strict_refusal(*self.skipped[0], f" ({len(self.skipped)} bad in all)")
        return replace(self, strict=True)

    def view(self, part: str, start: int = 0, stop: int | None = None) -> "FileView":
        files, labels = (self.train_files, self.y_train) if part == "train" else (self.test_files, self.y_test)
        return FileView(files[start:stop], labels[start:stop], self.grey, f"{self.fingerprint}:{part}:{start}:{stop}",
                        self.strict)


@dataclass(frozen=True)
class FileView:
    """One split's files (in order) and labels: what the harness takes where arrays were."""

    files: tuple[str, ...]
    labels: np.ndarray
    grey: bool
    fingerprint: str  # the dataset's, and which part of it: the feature store's key
    strict: bool = False
    failed: dict = field(default_factory=dict, compare=False)  # position -> why, as decoding finds them

    def __len__(self) -> int:
        return len(self.files)

    @property
    def channels(self) -> int:
        return 1 if self.grey else 3

    def decode(self, positions, size: int, resize: str) -> np.ndarray:
        """The images at ``positions`` as uint8 (n, size, size, channels). A file that cannot be
        decoded whole becomes black and is recorded in ``failed`` (its features and its weight in
        training are then left out); with ``strict`` it is a BadInput naming it."""
        positions = list(positions)
        out = np.zeros((len(positions), size, size, self.channels), np.uint8)
        for i, position in enumerate(positions):
            path = self.files[position]
            try:
                out[i] = decode(_opened(path), size, self.grey, resize)
            except (FileNotFoundError, PermissionError) as exc:
                raise BadInput(f"{path} cannot be read ({exc.strerror.lower()}): the images must stay where they "
                               "were when the run began, at the same path for every trial process and Ray "
                               "worker.") from None
            except (BadImage, OSError) as exc:  # OSError: a TFRecord record that cannot be parsed
                if self.strict:
                    raise strict_refusal(path, exc) from None
                self.failed[position] = f"{path}: {exc}"
        return out

    def kept(self) -> np.ndarray:
        """Positions of the images decoded whole so far (all of them before any decoding)."""
        return np.setdiff1d(np.arange(len(self)), np.fromiter(self.failed, np.int64, len(self.failed)))


def _opened(item: str):
    """A file's path as it is, or a record of a TFRecord shard (zoo.data.records) as the encoded image."""
    return records.open_image(item) if records.is_reference(item) else item


def decoded_batches(view: FileView, size: int, resize: str, batch_size: int, workers: int = DECODE_WORKERS):
    """``(start, images)`` for each batch of ``view``, in order, images uint8 (n, size, size,
    channels), decoded ``workers`` batches ahead in a thread pool while the caller runs the
    model on the one before. (A thread pool over Pillow rather than tf.data, so that JAX and
    PyTorch read files the same way; Keras's PyDataset does the same for training.)"""
    stop = len(view)
    starts = range(0, stop, batch_size)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = {}
        for i, first in enumerate(starts):
            for ahead in starts[i:i + workers + 1]:
                if ahead not in pending:
                    pending[ahead] = pool.submit(view.decode, range(ahead, min(ahead + batch_size, stop)), size, resize)
            yield first, pending.pop(first).result()
