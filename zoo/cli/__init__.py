"""The ``zoo`` command line (``zoo = "zoo.cli:cli"``), one module per group of commands."""

from .main import cli, main

__all__ = ["cli", "main"]
