"""CIFAR-10 from its original python-batch files, read without executing any code.

The batch files are pickles, and a pickle can run arbitrary code when loaded
(Keras's own ``load_batch`` unpickles with no restriction). zoo's reader admits
only what the format needs: NumPy's array reconstruction, dtypes and builtins.
"""

from __future__ import annotations

import codecs
import io
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import BadInput, ZooError

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE = "cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
FILES = [*TRAIN_BATCHES, "test_batch", "batches.meta"]


@dataclass
class ImageData:
    """A dataset's splits as uint8 images (N, H, W, C) and integer labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])


_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's own, whatever module it lives in


class _SafeUnpickler(pickle.Unpickler):
    # numpy arrays pickle as _reconstruct(ndarray, ...) plus a dtype; Python 3 writes
    # bytes in protocol 2 through _codecs.encode. Nothing else may be called.
    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: "
                                         "not part of the CIFAR python-batch format")
        return self.ALLOWED[(module, name)]


def safe_load(data: bytes, name: str) -> dict:
    """Unpickle one batch file's bytes; a corrupt or hostile file gets a one-line error."""
    try:
        loaded = _SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as exc:
        raise BadInput(f"{name} is not a valid CIFAR python-batch file ({type(exc).__name__}: "
                       f"{str(exc).splitlines()[0] if str(exc) else 'truncated'}); "
                       "replace it with the original from cifar-10-python.tar.gz.") from None
    if not isinstance(loaded, dict):
        raise BadInput(f"{name} is not a valid CIFAR python-batch file (it holds a "
                       f"{type(loaded).__name__}, not a dict).")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in loaded.items()}


def _images(batch: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["labels"], dtype=np.int64)
        images = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1)
    except (KeyError, ValueError) as exc:
        raise BadInput(f"{name} does not hold CIFAR-10 images and labels ({type(exc).__name__}: {exc}).") from None
    if len(labels) != len(images):
        raise BadInput(f"{name} holds {len(images)} images but {len(labels)} labels.")
    return images, labels


def _read_files(read, where: str) -> ImageData:
    """Build the splits from a ``read(filename) -> bytes`` over the batch files."""
    batches = [_images(safe_load(read(f), f"{where}/{f}"), f"{where}/{f}") for f in TRAIN_BATCHES]
    x_test, y_test = _images(safe_load(read("test_batch"), f"{where}/test_batch"), f"{where}/test_batch")
    meta = safe_load(read("batches.meta"), f"{where}/batches.meta")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get("label_names", [])]
    return ImageData("cifar10", np.concatenate([b[0] for b in batches]),
                     np.concatenate([b[1] for b in batches]), x_test, y_test, names, where)


def _from_folder(folder: Path) -> ImageData:
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise BadInput(f"{folder} lacks CIFAR-10 files {', '.join(missing)}: give --data-dir a folder "
                       f"with {', '.join(FILES)} (as unpacked from {ARCHIVE}), or the archive itself.")
    return _read_files(lambda f: (folder / f).read_bytes(), str(folder))


def _from_archive(path: Path) -> ImageData:
    try:
        with tarfile.open(path, "r:gz") as tar:
            # Members are read in memory, never extracted, so no path in the archive is trusted.
            members = {Path(m.name).name: m for m in tar.getmembers()
                       if m.isfile() and Path(m.name).parent.name == FOLDER}

            def read(f):
                if f not in members:
                    raise BadInput(f"{path} has no {FOLDER}/{f}: it is not the CIFAR-10 python archive.")
                return tar.extractfile(members[f]).read()

            return _read_files(read, f"{path}:{FOLDER}")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BadInput(f"{path} is not a readable {ARCHIVE} ({type(exc).__name__}: {exc}).") from None


def load_local(path) -> ImageData:
    """CIFAR-10 from a batch folder, a folder holding ``cifar-10-batches-py/``, or the .tar.gz."""
    path = Path(path).expanduser()
    if path.is_file():
        return _from_archive(path)
    if not path.is_dir():
        raise BadInput(f"--data-dir {path} does not exist: give a folder with the CIFAR-10 python "
                       f"batch files, a folder containing {FOLDER}/, or {ARCHIVE}.")
    for candidate in (path, path / FOLDER):
        if (candidate / "data_batch_1").is_file():
            return _from_folder(candidate)
    if (path / ARCHIVE).is_file():
        return _from_archive(path / ARCHIVE)
    return _from_folder(path)  # names the missing files


def load_keras_cache() -> ImageData:
    """CIFAR-10 through Keras's own download and cache (``~/.keras/datasets``), read safely."""
    import keras

    from .model import keras_home

    cache = keras_home() / "datasets"
    for folder in (cache / FOLDER, cache / f"{FOLDER}_extracted" / FOLDER):
        if (folder / "data_batch_1").is_file():
            return _from_folder(folder)
    try:
        archive = keras.utils.get_file(ARCHIVE, ORIGIN, file_hash=SHA256, cache_subdir="datasets")
    except Exception as exc:
        raise BadInput(f"CIFAR-10 is not cached and could not be downloaded ({type(exc).__name__}): put "
                       f"{ARCHIVE} (or its {FOLDER}/ folder) in {cache}/, or pass --data-dir DIR.") from None
    return _from_archive(Path(archive))
