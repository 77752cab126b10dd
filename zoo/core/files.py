"""Every file zoo writes is written whole or not at all, into folders checked before any work.

A file goes to a temporary name beside its place and is renamed into place only once
complete, so a kill, a full disk or a crash leaves the last good file or none, never a
truncated one. The feature store, models, results, plots and reports all write through here.
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

from ..errors import BadInput, ZooError, os_reason


class WriteError(ZooError):
    """A file could not be written (a full disk, a folder turned read-only): one line naming it."""


def _free(folder: Path) -> str:
    try:
        return f"{shutil.disk_usage(folder).free / 2**20:,.1f} MB free"
    except OSError:
        return "free space unknown"


def write_error(path: Path, exc: OSError) -> WriteError:
    return WriteError(f"could not write {path}: {os_reason(exc)} ({_free(path.parent)}).")


@contextmanager
def atomic_path(path: Path):
    """A temporary path beside ``path`` (same suffixes, which Keras and matplotlib read) to write
    to; renamed onto ``path`` when the block ends, removed when it fails. A failed write raises
    ``WriteError``."""
    path = Path(path)
    partial = path.with_name(f".{path.name.split('.')[0]}.{os.getpid()}.partial{''.join(path.suffixes)}")
    try:
        yield partial
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise write_error(path, exc) from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """All of ``text`` in ``path``, or nothing (the file that was there stays)."""
    with atomic_path(path) as partial:
        with open(partial, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename, so a power cut cannot leave it empty


def finite(value):
    """``value`` with every NaN or infinity (a diverged loss) as None: strict JSON, as jq or a
    browser reads it."""
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def remove_partials(folder: Path) -> None:
    """Temporary files a killed run left behind."""
    for pattern in (".*.partial*", "*/.*.partial*"):
        for path in folder.glob(pattern):
            path.unlink(missing_ok=True)


def check_folder(folder: Path, flag: str = "--output") -> Path:
    """``folder`` created if needed and writable, or a one-line BadInput saying why not."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise BadInput(f"{flag} {folder} is a file: give a folder (it is created if missing).")
    try:
        make_writable(folder)
    except OSError as exc:
        raise BadInput(f"{flag} {folder} cannot be written ({os_reason(exc)}): choose a folder you can write to.") from None
    return folder


def make_writable(folder: Path) -> None:
    """Make ``folder`` (with its parents) and write a file in it, removed at once: OSError when
    either cannot be done, so that a folder is checked before any work, not after it."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".tmp-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    probe.write_text("")
    probe.unlink()
