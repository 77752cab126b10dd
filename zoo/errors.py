"""The two kinds of failure zoo explains in one line instead of a traceback, and how it words
someone else's exception in one line."""

import os


class ZooError(Exception):
    """Something went wrong that zoo can explain in one line (exit code 1)."""

    exit_code = 1


class BadInput(ZooError):
    """The user asked for something that cannot work: a bad name, path or value (exit code 2).

    The message names the thing and says how to fix it.
    """

    exit_code = 2


def one_line(exc: BaseException, empty: str | None = None) -> str:
    """An exception as ``Type: first line of its message``; with no message, ``Type: empty``
    (or ``Type`` alone). Every one-line error zoo prints about someone else's exception."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else empty
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def download_reason(exc: BaseException) -> str:
    """A download error in a few words: Keras wraps them as "URL fetch failure on URL: code -- reason"."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text.rpartition(" -- ")[2] if " -- " in text else text


def os_reason(exc: OSError) -> str:
    """What the system said (``No space left on device``), without Python's ``[Errno 28]`` and
    the file name around it; the message itself where there is no errno."""
    return os.strerror(exc.errno) if exc.errno else str(exc)
