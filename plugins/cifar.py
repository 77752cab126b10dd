"""CIFAR-10 and CIFAR-100 from their original python-version files, read without executing any code.

The files are pickles, and a pickle can run arbitrary code when loaded (Keras's
own ``load_batch`` unpickles with no restriction). This reader admits only what
the format needs: NumPy's array reconstruction, dtypes and builtins.

Both datasets are read from ``--data-dir`` (the unpacked folder, a folder holding
it, or the .tar.gz itself, read in memory without extracting) or from Keras's
cache, ``keras_home()/datasets``, downloading the archive there when it is missing.
"""

from __future__ import annotations

import codecs
import io
import pickle
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

import zoo
from zoo.core.card import Dataset
from zoo.data.datasets import ImageData, as_labels, as_pixels
from zoo.errors import BadInput, download_reason, one_line


@dataclass(frozen=True)
class CifarFormat:
    """Where one CIFAR version keeps its files and what its dicts are keyed by."""

    name: str  # "CIFAR-10", for messages
    dataset: str  # zoo's name, "cifar10"
    archive: str  # the published .tar.gz
    origin: str
    sha256: str  # as Keras checks it
    folder: str  # what the archive unpacks to
    train_files: tuple[str, ...]
    test_file: str
    meta_file: str
    labels_key: str  # in each batch; "{variant}" is filled in
    names_key: str  # in the meta file

    @property
    def files(self) -> list[str]:
        return [*self.train_files, self.test_file, self.meta_file]


CIFAR10 = CifarFormat(
    name="CIFAR-10",
    dataset="cifar10",
    archive="cifar-10-python.tar.gz",
    origin="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    folder="cifar-10-batches-py",
    train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
    test_file="test_batch",
    meta_file="batches.meta",
    labels_key="labels",
    names_key="label_names",
)
CIFAR100 = CifarFormat(
    name="CIFAR-100",
    dataset="cifar100",
    archive="cifar-100-python.tar.gz",
    origin="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    sha256="85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
    folder="cifar-100-python",
    train_files=("train",),
    test_file="test",
    meta_file="meta",
    labels_key="{variant}_labels",
    names_key="{variant}_label_names",
)
CIFAR100_VARIANTS = ("fine", "coarse")

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


# Reading one pickle safely.

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


def safe_load(data: bytes, name: str, archive: str = "the dataset's .tar.gz") -> dict:
    """Unpickle one CIFAR file's bytes; a corrupt or hostile file gets a one-line error."""
    try:
        loaded = _SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as exc:
        raise BadInput(f"{name} is not a valid CIFAR python-batch file ({one_line(exc, 'truncated')}); "
                       f"replace it with the original from {archive}.") from None
    if not isinstance(loaded, dict):
        raise BadInput(f"{name} is not a valid CIFAR python-batch file (it holds a "
                       f"{type(loaded).__name__}, not a dict).")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in loaded.items()}


def _images(batch: dict, label_key: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        # Checked before any conversion: uint8 would wrap 300 to 44, int64 would cut 3.5 to 3.
        data = as_pixels(batch["data"], name)
        labels = as_labels(batch[label_key], name).reshape(-1)
        # Each row: the 1024 red values, then green, then blue, each 32x32 row-major.
        images = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1)
    except KeyError as exc:
        raise BadInput(f"{name} has no {exc} entry: it is not a CIFAR file with {label_key}.") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadInput(f"{name} does not hold CIFAR images and labels ({one_line(exc, 'bad data')}).") from None
    if len(labels) != len(images):
        raise BadInput(f"{name} holds {len(images)} images but {len(labels)} labels.")
    return images, labels


def _class_names(meta: dict, names_key: str, name: str) -> list[str]:
    if names_key not in meta:
        raise BadInput(f"{name} has no {names_key} entry: replace it with the original meta file.")
    try:
        return [n.decode() if isinstance(n, bytes) else str(n) for n in meta[names_key]]
    except (TypeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{name}: {names_key} is not a list of names ({type(exc).__name__}).") from None



# Reading a whole dataset from a folder or an archive.

def _read_files(fmt: CifarFormat, variant: Optional[str], read: Callable[[str], bytes], where: str) -> ImageData:
    """Build the splits from a ``read(filename) -> bytes`` over the dataset's files."""
    label_key, names_key = fmt.labels_key.format(variant=variant), fmt.names_key.format(variant=variant)

    def load(filename):
        return safe_load(read(filename), f"{where}/{filename}", fmt.archive)

    train = [_images(load(f), label_key, f"{where}/{f}") for f in fmt.train_files]
    x_test, y_test = _images(load(fmt.test_file), label_key, f"{where}/{fmt.test_file}")
    names = _class_names(load(fmt.meta_file), names_key, f"{where}/{fmt.meta_file}")
    for labels, filename in [*zip([t[1] for t in train], fmt.train_files), (y_test, fmt.test_file)]:
        if len(labels) and (labels.min() < 0 or labels.max() >= len(names)):
            raise BadInput(f"{where}/{filename} has labels outside 0..{len(names) - 1}, the classes "
                           f"{fmt.meta_file} names: it does not belong with that meta file.")
    dataset = fmt.dataset if variant is None else f"{fmt.dataset}:{variant}"
    return ImageData(dataset, np.concatenate([t[0] for t in train]), np.concatenate([t[1] for t in train]),
                     x_test, y_test, names, where)


def _from_folder(fmt: CifarFormat, variant: Optional[str], folder: Path) -> ImageData:
    missing = [f for f in fmt.files if not (folder / f).is_file()]
    if missing:
        raise BadInput(f"{folder} lacks {fmt.name} files {', '.join(missing)}: give --data-dir a folder with "
                       f"{', '.join(fmt.files)} (as unpacked from {fmt.archive}), or the archive itself.")
    return _read_files(fmt, variant, lambda f: (folder / f).read_bytes(), str(folder))


def _from_archive(fmt: CifarFormat, variant: Optional[str], path: Path) -> ImageData:
    try:
        with tarfile.open(path, "r:gz") as tar:
            # Members are read in memory, never extracted, so no path in the archive is trusted.
            members = {Path(m.name).name: m for m in tar.getmembers()
                       if m.isfile() and Path(m.name).parent.name == fmt.folder}

            def read(f):
                if f not in members:
                    raise BadInput(f"{path} has no {fmt.folder}/{f}: it is not the {fmt.name} python archive "
                                   f"{fmt.archive}.")
                return tar.extractfile(members[f]).read()

            return _read_files(fmt, variant, read, f"{path}:{fmt.folder}")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:  # not gzip, cut off, corrupt
        raise BadInput(f"{path} is not a readable {fmt.archive} ({one_line(exc, 'truncated')}).") from None


def _load_local(fmt: CifarFormat, variant: Optional[str], path) -> ImageData:
    path = Path(path).expanduser()
    if path.is_file():
        return _from_archive(fmt, variant, path)
    if not path.is_dir():
        raise BadInput(f"--data-dir {path} does not exist: give a folder with the {fmt.name} python "
                       f"files, a folder containing {fmt.folder}/, or {fmt.archive}.")
    for candidate in (path, path / fmt.folder):
        if (candidate / fmt.train_files[0]).is_file():
            return _from_folder(fmt, variant, candidate)
    if (path / fmt.archive).is_file():
        return _from_archive(fmt, variant, path / fmt.archive)
    return _from_folder(fmt, variant, path)  # names the missing files


def _load_keras_cache(fmt: CifarFormat, variant: Optional[str]) -> ImageData:
    """From Keras's dataset cache, downloading the archive there (hash-checked) when it is missing."""
    import keras

    from zoo.backbones.checks import keras_home

    cache = keras_home() / "datasets"
    stem = fmt.archive.removesuffix(".tar.gz")
    # Where a folder can be: unpacked by hand, by keras.datasets.*.load_data ("<folder>-target"),
    # or by get_file(archive, extract=True) ("<stem>_extracted").
    for folder in (cache / fmt.folder, cache / f"{fmt.folder}-target" / fmt.folder,
                   cache / f"{stem}_extracted" / fmt.folder):
        if (folder / fmt.train_files[0]).is_file():
            return _from_folder(fmt, variant, folder)
    if (cache / fmt.archive).is_file():
        return _from_archive(fmt, variant, cache / fmt.archive)
    try:
        # cache_dir: Keras reads KERAS_HOME once, at import; zoo's keras_home() reads it now.
        archive = keras.utils.get_file(fmt.archive, fmt.origin, file_hash=fmt.sha256,
                                       cache_subdir="datasets", cache_dir=str(keras_home()))
    except Exception as exc:
        raise BadInput(f"{fmt.name} is not cached and could not be downloaded from {fmt.origin} "
                       f"({download_reason(exc)}): put {fmt.archive} (or its {fmt.folder}/ folder) in {cache}/, "
                       "or pass --data-dir DIR.") from None
    return _from_archive(fmt, variant, Path(archive))


def _cifar100_variant(variant: Optional[str]) -> str:
    variant = variant or CIFAR100_VARIANTS[0]
    if variant not in CIFAR100_VARIANTS:
        raise BadInput(f"cifar100 takes the variant {' or '.join(CIFAR100_VARIANTS)}, not {variant!r}.")
    return variant


# The public loaders: the card's load_local(folder, variant) and download(variant).

def load_cifar10(path, variant: Optional[str] = None) -> ImageData:
    """CIFAR-10 from a batch folder, a folder holding ``cifar-10-batches-py/``, or the .tar.gz."""
    return _load_local(CIFAR10, None, path)


def download_cifar10(variant: Optional[str] = None) -> ImageData:
    """CIFAR-10 through Keras's cache (``keras_home()/datasets``), downloading it when missing."""
    return _load_keras_cache(CIFAR10, None)


def load_cifar100(path, variant: Optional[str] = "fine") -> ImageData:
    """CIFAR-100 (``fine`` or ``coarse`` labels) from ``cifar-100-python/``, its parent or the .tar.gz."""
    return _load_local(CIFAR100, _cifar100_variant(variant), path)


def download_cifar100(variant: Optional[str] = "fine") -> ImageData:
    """CIFAR-100 through Keras's cache (``keras_home()/datasets``), downloading it when missing."""
    return _load_keras_cache(CIFAR100, _cifar100_variant(variant))


@zoo.hookimpl
def register_datasets(register):
    register(Dataset(
        name="cifar10",
        num_classes=10,
        class_names=CIFAR10_CLASSES,
        image_shape=(32, 32, 3),
        load_local=load_cifar10,
        download=download_cifar10,
        local_files=f"{', '.join(CIFAR10.files)} (the {CIFAR10.folder}/ folder), its parent, or {CIFAR10.archive}",
        description="CIFAR-10: 60,000 32x32 colour images in 10 classes (50,000 train, 10,000 test).",
        reference="https://www.cs.toronto.edu/~kriz/cifar.html",
    ))
    register(Dataset(
        name="cifar100",
        num_classes=100,  # fine labels; cifar100:coarse has 20
        class_names=None,  # read from the files' meta
        image_shape=(32, 32, 3),
        load_local=load_cifar100,
        download=download_cifar100,
        variants=CIFAR100_VARIANTS,
        local_files=f"{', '.join(CIFAR100.files)} (the {CIFAR100.folder}/ folder), its parent, or {CIFAR100.archive}",
        description="CIFAR-100: 60,000 32x32 colour images, 100 fine classes in 20 coarse superclasses "
                    "(cifar100:coarse).",
        reference="https://www.cs.toronto.edu/~kriz/cifar.html",
    ))
