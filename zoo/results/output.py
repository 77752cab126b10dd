"""A run's output folder: held by one run at a time, what ``--overwrite`` clears, and which
models ``--save-models best`` keeps. Its files are written atomically (zoo.core.files).
"""

from __future__ import annotations

import errno
import os
import socket
import time
from contextlib import contextmanager, suppress
from pathlib import Path

from ..core.files import write_error
from ..core.rows import Status
from ..errors import BadInput

LOCK = ".zoo.lock"
# What a run leaves in its folder (besides models): what --overwrite replaces.
RESULT_FILES = ("results.json", "results.csv", "summary.json", "summary.csv", "histories.json",
                "curves.png", "tradeoff.png", "agreement.json", "confusion.json", "per_class.csv", "report.html",
                "rank.json", "rank.csv", "tuning.csv")


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
    """--save-models best: of each dataset's finished trials, only the best one's model stays:
    the best on validation (``best_val_accuracy``; the first of equals), as every choice zoo
    makes. The test split chooses nothing, or the model kept would be the one that happened to
    suit the test images. Of the trials in ``ours`` (this run's: an earlier run's models are not
    this run's to remove), the others' rows lose their ``model``; returns those models' paths,
    to remove once the rows that no longer name them are written."""
    beaten = []
    for dataset in dict.fromkeys(row.dataset for row in rows):
        finished = [row for row in rows if row.dataset == dataset and row.status == Status.OK and row.model]
        if not finished:
            continue
        best = max(finished, key=lambda row: row.best_val_accuracy if row.best_val_accuracy is not None else -1)
        for row in finished:
            if row is not best and row.trial in ours:
                beaten.append(row.model)
                row.model = None
    return beaten
