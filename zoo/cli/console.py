"""Where the command line prints: tables to stdout, one-line messages to stderr, JSON for ``--json``."""

from __future__ import annotations

import json

import click
from rich.console import Console

from ..core.files import finite

# Tables are wide: when output goes to a file or a pipe, do not fold them at 80 columns.
out = Console() if Console().is_terminal else Console(width=200)
err = Console(stderr=True, soft_wrap=True)  # one-line messages stay on one line


def emit_json(rows) -> None:
    """``rows`` on stdout as strict JSON (NaN and infinity as null), as jq reads it."""
    click.echo(json.dumps(finite(rows), indent=2, allow_nan=False))


def say_written(folder, names, what: str) -> None:
    """Where the results are, naming only the files that are there (a full disk may have kept some out)."""
    written = [name for name in names if (folder / name).is_file()]
    if written:
        err.print(f"{what} in {folder}/ ({', '.join(written)})", highlight=False)
