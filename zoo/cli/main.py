"""The ``zoo`` command line: the group, its ``--plugin`` option, and how errors end a command
(one line and an exit code, never a traceback). The commands live beside it: ``views`` (list,
info, layers, plugins, datasets, heads), ``compare`` (compare, rank), ``bench`` and ``cache``."""

from __future__ import annotations

import os
import traceback
import warnings

import click
from rich.markup import escape

from .. import plugins
from ..errors import ZooError, one_line
from .bench import bench
from .cache import cache
from .compare import compare_command, rank_command
from .console import err
from .views import datasets_command, heads_command, info_command, layers_command, list_command, plugins_command


def _show_warning(message, category, filename, lineno, file=None, line=None):
    err.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


class UsageLine(click.ClickException):
    """A usage error as one line (click prints usage, a hint and a blank line before it), exit 2."""

    exit_code = 2

    @classmethod
    def of(cls, exc: click.UsageError) -> "UsageLine":
        where = f" See `{exc.ctx.command_path} --help`." if exc.ctx is not None else ""
        return cls(exc.format_message().strip().splitlines()[0] + where)


class ZooGroup(click.Group):
    """Turns zoo's own errors, and click's usage errors, into one line and an exit code instead of a
    traceback or a usage block."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:  # the group's own options (zoo --nosuch)
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise UsageLine.of(exc) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # a command's options and arguments, parsed in here
            raise UsageLine.of(exc) from None
        except ZooError as exc:
            err.print(f"[red]Error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:  # before any result (zoo compare keeps its own): say so, not "Aborted!"
            err.print("Interrupted.", highlight=False)
            ctx.exit(130)
        except Exception as exc:
            if os.environ.get("ZOO_DEBUG"):
                traceback.print_exc()
            err.print(f"[red]Error:[/] {escape(one_line(exc))} (set ZOO_DEBUG=1 for the traceback)",
                      highlight=False, soft_wrap=True)
            ctx.exit(1)


@click.group(cls=ZooGroup)
@click.version_option(package_name="zoo")
@click.option("--plugin", "extra_plugins", multiple=True, metavar="PATH_OR_MODULE",
              help="Load a plugin from a .py file or an importable module (repeatable).")
def cli(extra_plugins):
    """Compare pretrained Keras backbones for transfer learning."""
    warnings.showwarning = _show_warning
    warnings.simplefilter("always", plugins.PluginWarning)
    plugins.load_plugins(extra_plugins)


for command in (list_command, info_command, layers_command, plugins_command, datasets_command, heads_command,
                compare_command, rank_command, bench, cache):
    cli.add_command(command)


def main():  # pragma: no cover - for `python -m zoo`
    cli(prog_name="zoo")
