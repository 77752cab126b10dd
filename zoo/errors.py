"""The two kinds of failure zoo explains in one line instead of a traceback."""


class ZooError(Exception):
    """Something went wrong that zoo can explain in one line (exit code 1)."""

    exit_code = 1


class BadInput(ZooError):
    """The user asked for something that cannot work: a bad name, path or value (exit code 2).

    The message names the thing and says how to fix it.
    """

    exit_code = 2
