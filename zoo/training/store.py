"""The feature store: frozen features on disk, computed once and read by every later command.

An entry is a folder named by the hash of its key (everything that determines the
features: backbone, weights, preprocessing, input size, cut, pooling, the data), readable
with plain NumPy::

    <root>/features/<digest>/features.npy   float32 (N, ...), the frozen part's output
    <root>/features/<digest>/labels.npy     int64 (N,)
    <root>/features/<digest>/meta.json      the key, shape, crc32 of the features' data, seconds

It is written in a temporary folder and renamed into place, so two writers of one entry
leave one whole entry (the second rename fails and its copy is dropped); a reader checks
the shape and checksum and treats a truncated or corrupt entry as a miss. The least
recently used entries go when the store passes its limit (``ZOO_CACHE_LIMIT_GB``).
No Keras here: ``zoo cache`` answers at once.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import json
import os
import shutil
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.files import WriteError, make_writable, write_text
from ..errors import BadInput, os_reason

DEFAULT_LIMIT_GB = 20.0
CHUNK = 1 << 24  # bytes read at a time when checking an entry


def store_root() -> Path:
    """``ZOO_CACHE``, else the XDG cache directory's ``zoo`` (``~/.cache/zoo``), as pip keeps its cache."""
    if os.environ.get("ZOO_CACHE"):
        return Path(os.environ["ZOO_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "zoo"


def limit_bytes() -> int:
    """The store's size limit: ``ZOO_CACHE_LIMIT_GB`` (default 20)."""
    text = os.environ.get("ZOO_CACHE_LIMIT_GB", "")
    try:
        gb = float(text) if text else DEFAULT_LIMIT_GB
    except ValueError:
        gb = -1.0
    if not gb >= 0:
        raise BadInput(f"ZOO_CACHE_LIMIT_GB={text!r}: give a size in GB, such as 20.")
    return int(gb * 2**30)


def check_store() -> Path:
    """The store's folder, writable, and its limit readable: said in one line before any work."""
    limit_bytes()
    root = store_root()
    try:
        make_writable(root / "features")
    except OSError as exc:
        raise BadInput(f"the feature store {root} cannot be written ({os_reason(exc)}): set ZOO_CACHE to a folder "
                       "you can write to, or add --no-store.") from None
    return root


def digest(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]


class Corrupt(Exception):
    """An entry that is not whole: its reason is said in one line, and the entry recomputed."""


@dataclass
class Entry:
    path: Path
    meta: dict
    bytes: int
    used: float  # last use (the folder's modification time), for least-recently-used eviction

    @property
    def key(self) -> dict:
        return self.meta.get("key", {})


def _crc(data: np.ndarray, crc: int = 0) -> int:
    flat = data.reshape(-1).view(np.uint8) if data.size else np.empty(0, np.uint8)
    for start in range(0, len(flat), CHUNK):
        crc = zlib.crc32(flat[start:start + CHUNK], crc)
    return crc


class Writer:
    """Features written batch by batch into a memory-mapped .npy in a temporary folder (so
    features larger than memory never need to be held), then committed by one rename."""

    def __init__(self, store: "FeatureStore", key: dict, shape: tuple, labels: np.ndarray):
        self.store, self.key = store, key
        self.final = store.folder / digest(key)
        self.temp = store.folder / f".tmp-{self.final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.temp.mkdir(parents=True)
        try:
            self.features = np.lib.format.open_memmap(self.temp / "features.npy", "w+", np.float32, shape)
            reserve(self.temp / "features.npy")
            np.save(self.temp / "labels.npy", np.asarray(labels, dtype=np.int64))
        except BaseException:
            self.abandon()
            raise
        self.start = time.perf_counter()

    def commit(self, say=print, extra: dict | None = None) -> np.ndarray:
        """Put the entry in place (another writer's, if it got there first) and return it
        memory-mapped; ``extra`` goes into its meta (the files that failed to decode). Where it
        cannot be written, say so and return the features computed."""
        self.features.flush()
        meta = {**(extra or {}), "key": self.key, "shape": list(self.features.shape), "dtype": "float32",
                "crc32": _crc(np.asarray(self.features)), "seconds": time.perf_counter() - self.start,
                "created": time.time()}
        try:
            (self.temp / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
        except OSError as exc:
            features = self.features  # still readable once its file is removed (Linux keeps it)
            self.abandon()
            say(f"{self.key.get('backbone')}: the feature store entry could not be written "
                f"({os_reason(exc)}); the features are used without it.")
            return features
        features = self.features
        try:
            os.rename(self.temp, self.final)  # atomic; fails when the entry is there already
            ours = True
        except OSError:
            shutil.rmtree(self.temp, ignore_errors=True)  # another writer's entry stands
            ours = False
        self.store.used.add(self.final)
        self.store.evict()
        if ours:  # the memory map follows its file through the rename: not read again
            return features
        try:
            found = self.store.open(self.key)
        except Corrupt:  # another writer's entry, not whole: ours is (its file stays readable)
            found = None
        return features if found is None else found[0]

    def abandon(self) -> None:
        self.features = None
        shutil.rmtree(self.temp, ignore_errors=True)


class FeatureStore:
    def __init__(self, root: Path | None = None, limit: int | None = None):
        self.root = Path(root) if root is not None else store_root()
        self.folder = self.root / "features"
        self._limit = limit
        self.used: set[Path] = set()  # entries this store read or wrote: eviction leaves them

    @property
    def limit(self) -> int:
        return limit_bytes() if self._limit is None else self._limit

    def open(self, key: dict) -> tuple[np.ndarray, dict] | None:
        """The entry's features, memory-mapped, and its meta; None when there is none. Raises
        ``Corrupt`` (after removing it) when the entry is truncated or does not match its checksum."""
        path = self.folder / digest(key)
        if not (path / "meta.json").is_file():
            return None
        try:
            meta = json.loads((path / "meta.json").read_text())
            features = np.load(path / "features.npy", mmap_mode="r")
            if list(features.shape) != meta["shape"]:
                raise Corrupt(f"shape {features.shape} where {tuple(meta['shape'])} was written")
            if _crc(features) != meta["crc32"]:
                raise Corrupt("its checksum does not match")
        except (OSError, ValueError, KeyError, json.JSONDecodeError, Corrupt) as exc:
            self.remove(path)
            raise Corrupt(f"feature store entry {path.name} was unreadable ({exc}); computing it again") from None
        try:
            os.utime(path)  # used now: the last to go
        except OSError:
            pass
        self.used.add(path)
        return features, meta

    def writer(self, key: dict, shape: tuple, labels) -> Writer:
        return Writer(self, key, tuple(shape), labels)

    def timing(self, key: dict) -> dict | None:
        """A step timing measured before under ``key`` (zoo.training.harness: seed and head do not change it)."""
        try:
            return json.loads((self.root / "timings" / f"{digest(key)}.json").read_text())["timing"]
        except (OSError, ValueError, KeyError):
            return None

    def save_timing(self, key: dict, timing: dict) -> None:
        try:
            (self.root / "timings").mkdir(parents=True, exist_ok=True)
            write_text(self.root / "timings" / f"{digest(key)}.json", json.dumps({"key": key, "timing": timing}))
        except (OSError, WriteError):
            pass  # measured again next time: nothing is lost

    def entries(self) -> list[Entry]:
        found = []
        for path in sorted(self.folder.glob("[!.]*")):
            try:
                meta = json.loads((path / "meta.json").read_text())
                size = sum(f.stat().st_size for f in path.iterdir())
                found.append(Entry(path, meta, size, path.stat().st_mtime))
            except (OSError, ValueError):
                continue  # removed meanwhile, or not whole: `zoo cache clear` removes it
        return found

    def evict(self) -> list[Entry]:
        """Remove the least recently used entries until the store is within its limit, but none
        this store has used (a trial's train, validation and test features stay together), and
        the folders of writers that died."""
        self.sweep()
        entries = sorted(self.entries(), key=lambda e: e.used)
        total, limit, removed = sum(e.bytes for e in entries), self.limit, []
        for entry in entries:
            if total <= limit:
                break
            if entry.path in self.used:
                continue
            self.remove(entry.path)
            total -= entry.bytes
            removed.append(entry)
        return removed

    def remove(self, path: Path) -> None:
        """Away in one rename first, so no reader ever meets half an entry."""
        gone = path.with_name(f".tmp-gone-{path.name}-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(path, gone)
        except OSError:
            return
        shutil.rmtree(gone, ignore_errors=True)

    def sweep(self) -> None:
        """Remove what writers that died (kill -9, out of memory) left half-written."""
        for temp in self.folder.glob(".tmp-*"):
            if not _writer_alive(temp.name):
                shutil.rmtree(temp, ignore_errors=True)

    def clear(self, pattern: str = "*") -> list[Entry]:
        """Remove the entries whose backbone matches ``pattern`` (and, for ``*``, the step timings
        and anything left half-written)."""
        removed = [e for e in self.entries() if fnmatch.fnmatchcase(str(e.key.get("backbone", "")), pattern)]
        for entry in removed:
            self.remove(entry.path)
        self.sweep()
        if pattern == "*":
            shutil.rmtree(self.root / "timings", ignore_errors=True)
        return removed


def reserve(path: Path) -> None:
    """Reserve a sparse file's blocks, so a full disk is an OSError now and not a SIGBUS when a
    memory map of it is written. Where the system cannot (macOS has no posix_fallocate; some
    file systems refuse it), the file stays as it is."""
    if not hasattr(os, "posix_fallocate"):
        return
    with open(path, "r+b") as f:
        try:
            os.posix_fallocate(f.fileno(), 0, os.fstat(f.fileno()).st_size)
        except OSError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                return
            raise


def _writer_alive(name: str) -> bool:
    """Whether the process that is writing a temporary folder (``.tmp-DIGEST-PID-RANDOM``) still runs."""
    parts = name.split("-")
    try:
        os.kill(int(parts[-2]), 0)
        return True
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
