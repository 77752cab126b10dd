"""The output folder: checked before any work, held by one run at a time, written atomically.

Every file zoo writes (models, results, plots) goes to a temporary name beside its
place and is renamed into place only once complete, so a kill, a full disk or a
crash leaves the last good file or none, never a truncated one.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import socket
import time
import uuid
from contextlib import contextmanager, suppress
from pathlib import Path

from .errors import BadInput, ZooError, os_reason
from .rows import Status

LOCK = ".zoo.lock"
# What a run leaves in its folder (besides models): what --overwrite replaces.
RESULT_FILES = ("results.json", "results.csv", "summary.json", "summary.csv", "histories.json",
                "curves.png", "tradeoff.png", "agreement.json", "confusion.json", "per_class.csv", "report.html",
                "rank.json", "rank.csv", "tuning.csv")


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


def earlier_results(folder: Path) -> bool:
    return (folder / "results.json").is_file()


def clear_earlier(folder: Path, models) -> None:
    """--overwrite: remove an earlier run's result files and the files its rows name (``models``:
    models and predictions.csv, relative to ``folder``; those alone: other .keras files in the
    folder are not zoo's), so none stays without its row."""
    for name in RESULT_FILES:
        (folder / name).unlink(missing_ok=True)
    for model in models:  # and the files of each trial (its predictions.csv), with a trial's folder left empty
        (folder / model).unlink(missing_ok=True)
        if (folder / model).parent != folder:
            try:
                (folder / model).parent.rmdir()
            except OSError:  # not empty (another trial's model), or gone
                pass


@contextmanager
def hold(folder: Path, made: Path | None = None):
    """Hold ``folder`` for this run: a second run into it is refused, naming this one.

    The lock is the kernel's (flock), so a run killed with -9 leaves no stale lock behind:
    the file remains, with the dead run's pid, but nothing holds it. When the run made the folder
    (``made``: the topmost folder it made on the way to it) and ends with nothing in it but the
    lock (refused, or stopped, before its first result), those folders go: it leaves nothing behind.
    """
    import fcntl  # POSIX only; zoo runs on Linux and macOS

    path = Path(folder) / LOCK
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
            raise
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise BadInput(f"{folder} is in use by another zoo run ({holder}): wait for it to finish, "
                       "or choose another --output.") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
    except OSError as exc:  # a disk full before the run began: said as every other write is
        with suppress(OSError):  # closing flushes the line that did not fit, and fails again
            handle.close()
        raise write_error(path, exc) from None
    try:
        yield
    finally:
        # Emptied, not removed: a run that opened the file just before a removal would lock a
        # file no longer in the folder, while a third run locked a new one. A folder this run
        # made and left empty goes, while the lock is still held.
        handle.seek(0)
        handle.truncate()
        if made is not None and {p.name for p in Path(folder).iterdir()} == {LOCK}:
            path.unlink()
            _remove_empty(Path(folder), Path(made))
        handle.close()  # releases the lock


def _remove_empty(folder: Path, top: Path) -> None:
    """``folder`` and its parents up to ``top``, each while it is empty."""
    folder = Path(os.path.abspath(folder))
    for each in (folder, *folder.parents):
        try:
            each.rmdir()
        except OSError:  # not empty (another run wrote there meanwhile), or gone
            return
        if each == top:
            return


def best_models_only(rows, ours: set) -> list[str]:
    """--save-models best: of each dataset's finished trials, only the best one's model stays
    (the best test accuracy; the first of equals). Of the trials in ``ours`` (this run's: an
    earlier run's models are not this run's to remove), the others' rows lose their ``model``;
    returns those models' paths, to remove once the rows that no longer name them are written."""
    beaten = []
    for dataset in dict.fromkeys(row.dataset for row in rows):
        finished = [row for row in rows if row.dataset == dataset and row.status == Status.OK and row.model]
        if not finished:
            continue
        best = max(finished, key=lambda row: row.test_accuracy if row.test_accuracy is not None else -1)
        for row in finished:
            if row is not best and row.trial in ours:
                beaten.append(row.model)
                row.model = None
    return beaten
