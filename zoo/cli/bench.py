"""``zoo bench``: the commands and their tables.

``zoo bench NAME... | --all`` times backbones on random data (``measure``), once per
Keras backend with ``--backends`` (``backends``); ``zoo bench compare A.json B.json``
prints the B/A ratios of two result files (``files``).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import backend
from ..backbones.checks import check_batch_fits, check_extra, check_input_size
from ..backbones.selection import choose, plan_line
from ..benchmark.backends import run_backends
from ..benchmark.files import compare_rows, geometric_mean, load_results, write_rows
from ..benchmark.settings import (BACKENDS, NUM_CLASSES, PRECISIONS, TRAIN_FULL, Settings, backend_version, is_failed,
                                  resolved_jit)
from ..core import registry
from ..core.files import check_folder, finite
from ..core.formatting import num
from ..training import timing
from .options import backbone_choice

out = Console() if Console().is_terminal else Console(width=200)
err = Console(stderr=True)

MOVED = "--compare moved: use `zoo bench compare A.json B.json`."


# --- Tables --------------------------------------------------------------------------------------

def rows_table(rows, caption: str) -> Table:
    backends = sorted({row.get("backend") for row in rows if row.get("backend")})
    table = Table(title="zoo bench: step times on random data, no weights", caption=caption)
    columns = ["backbone", *(["backend"] if len(backends) > 1 else []), "mode", "batch", "input",
               "precision", "median ms", "p10-p90 ms", "images/s", "compile s", "host MB",
               "device MB", "params"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("backbone", "backend", "mode", "precision")
                         else "right")
    order = {m: i for i, m in enumerate(("train", TRAIN_FULL, "infer"))}
    rows = sorted(rows, key=lambda r: (r["backbone"], order.get(r["mode"], 9), r.get("backend") or ""))
    for row in rows:
        cells = [row["backbone"], *([row.get("backend") or "-"] if len(backends) > 1 else []),
                 row["mode"], str(row["batch_size"]), str(row["input_size"] or "-"),
                 row["precision"]]
        if is_failed(row):
            table.add_row(*map(escape, cells), "[red]failed[/]", *[""] * (len(columns) - len(cells) - 1))
            continue
        table.add_row(*map(escape, cells), num(row["step_ms_median"], ",.1f"),
                      f"{num(row['step_ms_p10'], ',.1f')}-{num(row['step_ms_p90'], ',.1f')}",
                      num(row["images_per_s"], ",.1f"), num(row["compile_s"], ".2f"),
                      num(row["peak_host_mb"], ",.0f"), num(row["peak_device_mb"], ",.0f"),
                      num(row["params"], ","))
    return table


def caption(rows, settings: Settings) -> str:
    import keras

    def values(key, default):
        return ", ".join(sorted({str(row[key]) for row in rows if row.get(key)})) or default

    backends = values("backend", backend.backend_name()).split(", ")
    versions = ", ".join(f"{name} {backend_version(name) or '(not installed)'}" for name in backends)
    return (f"{values('device', backend.device_name())} · Keras {values('keras_version', keras.__version__)}"
            f" · {versions}\n{settings.steps} timed steps after {max(settings.warmup, 1)} untimed ones, "
            f"the first of which compiles (compile s) · jit {resolved_jit(settings)} · train: "
            f"{settings.freeze} freeze · {NUM_CLASSES}-class head · host MB: the process's peak RSS")


def print_comparison(path_a, path_b, console: Console | None = None) -> list[dict]:
    """Print the ratios of two result files; it reports and never fails on timing."""
    console = console or out
    rows = compare_rows(load_results(path_a), load_results(path_b))
    table = Table(title=f"B / A step time: A = {path_a}, B = {path_b}",
                  caption="ratio < 1: B is faster; > 1: B is slower. Timings only; nothing fails on them.")
    for column in ("benchmark", "A median ms", "B median ms", "B/A", ""):
        table.add_column(column, justify="left" if column in ("benchmark", "") else "right")
    for row in rows:
        ratio = row["ratio"]
        verdict = row["note"] or ("" if ratio is None else "same" if abs(ratio - 1) < 0.005 else
                                  f"{1 / ratio:.2f}x faster" if ratio < 1 else f"{ratio:.2f}x slower")
        table.add_row(escape(row["name"]), num(row["a_ms"], ",.2f"), num(row["b_ms"], ",.2f"),
                      num(ratio, ".3f"), escape(verdict))
    console.print(table)
    ratios = [r["ratio"] for r in rows if r["ratio"]]
    if ratios:
        console.print(f"{len(ratios)} benchmarks in both files; geometric mean of B/A: "
                      f"{geometric_mean(ratios):.3f}")
    else:
        console.print("No benchmark is in both files with a timing.")
    return rows


# --- The commands --------------------------------------------------------------------------------

class DefaultGroup(click.Group):
    """A group that runs its ``default`` command when the first argument names no subcommand:
    ``zoo bench vgg16`` is ``zoo bench run vgg16``, and ``zoo bench compare A B`` compares.

    Hand-written because click has no default subcommand and no package for one
    (click-default-group) is installed. The default runs in the group's place (same name,
    same parent), so its usage lines and errors say ``zoo bench`` as when it was the command.
    """

    def __init__(self, name, default: click.Command, **kwargs):
        super().__init__(name, help=default.help, **kwargs)
        self.default = default
        self.add_command(default)

    def make_context(self, info_name, args, parent=None, **extra):
        help_names = parent.help_option_names if parent else ["--help"]
        if args and (args[0] in self.commands or args[0] in help_names):
            return super().make_context(info_name, args, parent, **extra)
        if any(arg == "--compare" or arg.startswith("--compare=") for arg in args):  # the old switch
            err.print(f"[red]Error:[/] {MOVED}", highlight=False, soft_wrap=True)
            raise click.exceptions.Exit(2)
        return self.default.make_context(info_name, args, parent, **extra)

    def invoke(self, ctx):
        # Command.main (the group used on its own) invokes the group with the default's context.
        return ctx.command.invoke(ctx) if ctx.command is not self else super().invoke(ctx)

    def format_help(self, ctx, formatter):
        self.default.format_help(ctx, formatter)  # its usage, text and options, as `zoo bench`
        self.format_commands(ctx, formatter)


def _backends_option(ctx, param, value):
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if not names or unknown:
        raise click.BadParameter(f"{', '.join(unknown) or 'nothing given'}: choose among "
                                 f"{', '.join(BACKENDS)}, separated by commas.")
    return list(dict.fromkeys(names))


def _output_option(ctx, param, value):
    if value is not None and Path(value).suffix.lower() not in (".json", ".csv"):
        raise click.BadParameter("the file name must end in .json or .csv.")
    return value


@click.command("run")
@backbone_choice
@click.option("--mode", type=click.Choice(["train", "infer", "both"]), default="both", show_default=True,
              help="Time training steps, inference steps or both.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--input-size", type=click.IntRange(min=1),
              help="Image side in pixels (default: each backbone's min input size; 224 compares "
                   "with the Keras applications table).")
@click.option("--steps", type=click.IntRange(min=1), default=timing.TIMED_STEPS, show_default=True,
              help="Timed steps per mode.")
@click.option("--warmup", type=click.IntRange(min=0), default=timing.WARMUP_STEPS, show_default=True,
              help="Untimed steps first; the first step (compilation) is never timed, even with 0.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="float32", show_default=True)
@click.option("--jit/--no-jit", default=None,
              help="Force XLA / torch.compile on or off (default: Keras's 'auto').")
@click.option("--freeze", type=click.Choice(["recommended", "none"]), default="recommended",
              show_default=True,
              help="Train steps with the card's recommended freeze, or with every layer trainable "
                   f"(rows with mode '{TRAIN_FULL}').")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON instead of the table.")
@click.option("--output", type=click.Path(dir_okay=False), callback=_output_option,
              help="Also write the rows to FILE (.json or .csv).")
@click.option("--backends", callback=_backends_option, metavar="A,B",
              help="Run the bench once per Keras backend (tensorflow, jax, torch), each in a subprocess.")
@click.pass_context
def run(ctx, names, all_, max_params, max_gmacs, mode, batch_size, input_size, steps, warmup, precision, jit, freeze,
        as_json, output, backends):
    """Train and inference step times of backbones NAME... (wildcards expand; or --all), on random data.

    No dataset and no weights: each backbone is assembled as `zoo compare` trains
    it, with a 10-class head, and timed on a random batch. A backbone that fails is
    reported in its row and the others still run; the exit code is then 1.
    `zoo bench NAME...` is short for `zoo bench run NAME...`.
    """
    chosen = choose(names, all_, max_params=max_params, max_gmacs=max_gmacs)
    if output:  # expanded once, and checked before any timing, not after hours of it
        output = Path(output).expanduser()
        check_folder(output.resolve().parent, "--output's folder")
    cards = [registry.get_backbone(n) for n in chosen]
    for card in cards:  # every card before any work: a size too small for one is the user's to fix
        check_extra(card)
        if input_size:
            check_input_size(card, input_size)
    for card in cards:  # the random batch, before it is allocated
        check_batch_fits(batch_size, input_size or card.min_input_size, 3, f"a batch for {card.name}")
    settings = Settings(batch_size, input_size, steps, warmup, precision, jit, freeze)

    def progress(message):
        err.print(f"[dim]bench: {message}[/]", highlight=False)

    if not as_json:
        err.print(plan_line(chosen, {c.name: input_size or c.min_input_size for c in cards}), highlight=False,
                  soft_wrap=True)

    if backends:
        plugin_specs = (ctx.find_root().params.get("extra_plugins") or ()) if ctx.parent else ()
        rows = run_backends(backends, cards, settings, mode, plugin_specs, progress)
    else:
        backend.check_backend()  # before Keras is imported, here, to time on this backend
        from ..benchmark.measure import run_bench  # the face imports Keras only once there is work here

        rows = run_bench(cards, settings, mode, None if as_json else progress)
    if as_json:
        click.echo(json.dumps(finite(rows), indent=2, allow_nan=False))
    else:
        out.print(rows_table(rows, caption(rows, settings)))  # shown before the file: nothing is lost
    if output:
        write_rows(rows, output)
        if not as_json:
            err.print(f"Rows written to {output}", highlight=False)
    failed = [row for row in rows if is_failed(row)]
    if failed:
        if not as_json:
            err.print(f"[red]{len(failed)} of {len(rows)} rows failed:[/]", highlight=False)
            for row in failed:
                where = " ".join(filter(None, [row["backbone"], row.get("backend"), row["mode"]]))
                err.print(f"  {escape(where)}: {escape(str(row.get('error')))}", highlight=False, soft_wrap=True)
        ctx.exit(1)


@click.command("compare")
@click.argument("path_a", metavar="A.json", type=click.Path(exists=True, dir_okay=False))
@click.argument("path_b", metavar="B.json", type=click.Path(exists=True, dir_okay=False))
def compare(path_a, path_b):
    """Print the B/A step-time ratios of two result files.

    Each file holds `zoo bench --json` (or --output .json) rows, matched by backbone and
    mode, or pytest-benchmark's --benchmark-json results, matched by test name. It
    reports and never fails on timing.
    """
    print_comparison(path_a, path_b)


bench = DefaultGroup("bench", default=run)
bench.add_command(compare)
