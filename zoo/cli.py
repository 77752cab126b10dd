"""The ``zoo`` command line."""

from __future__ import annotations

import json
import os
import shlex
import sys
import traceback
import warnings
from datetime import datetime
from pathlib import Path

import click
from click.core import ParameterSource
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import backend, plugins, registry
from .cli_options import (backbone_choice, data_options, executor_options, mlflow_options, no_store_option,
                          selection_options)
from .errors import ZooError, one_line
from .formatting import num
from .recipe import FEATURE_NAMES, feature_options, recipe_options
from .rows import RANK_BY
from .selection import card_row, select_backbones

# Tables are wide: when output goes to a file or a pipe, do not fold them at 80 columns.
out = Console() if Console().is_terminal else Console(width=200)
err = Console(stderr=True, soft_wrap=True)  # one-line messages stay on one line


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


def _emit_json(rows) -> None:
    from .files import finite  # NaN and infinity as null: strict JSON, as jq reads it

    click.echo(json.dumps(finite(rows), indent=2, allow_nan=False))


@cli.command("list")
@click.argument("patterns", nargs=-1)
@click.option("--sort", type=click.Choice(["name", "top1", "params", "gmacs"]), default="name", show_default=True,
              help="top1: best ImageNet top-1 first; params, gmacs: cheapest first.")
@selection_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of the table.")
def list_command(patterns, sort, max_params, max_gmacs, as_json):
    """The registered backbones matching PATTERN... (wildcards, like 'efficientnet*'), from their
    cards: nothing is built, so it answers at once (`zoo info NAME` builds one)."""
    rows = [card_row(name) for name in select_backbones(patterns, max_params=max_params, max_gmacs=max_gmacs,
                                                         sort=sort)]
    if as_json:
        return _emit_json(rows)
    table = Table(title="Registered backbones", caption="top-1: published ImageNet accuracy (Keras applications "
                  "table; for keras-hub cards their paper's, * a linear probe of frozen features); params without "
                  "the top; GMACs per image at the default input size")
    for column in ("name", "top-1", "params", "GMACs", "min input", "default input", "freeze layer", "pooling",
                   "preprocess", "plugin"):
        table.add_column(column, justify="left" if column in ("name", "plugin", "freeze layer", "pooling",
                                                              "preprocess") else "right")
    for row in rows:
        probe = "*" if row["imagenet_top1_protocol"] == "linear probe" and row["imagenet_top1"] else ""
        plugin = row["plugin"] + (f" (needs {row['needs']})" if row["needs"] else "")
        table.add_row(escape(row["name"]), num(row["imagenet_top1"], ".1%") + probe, num(row["params"], ","),
                      num(row["gmacs"], ".2f"), str(row["min_input_size"]), str(row["default_input_size"]),
                      *map(escape, (row["freeze_layer"] or "(whole backbone)", row["pooling"], row["preprocess"],
                                    plugin)))
    out.print(table)
    if not rows:
        err.print(f"No backbone matches {' '.join(patterns) or '*'} within the limits given.")


@cli.command("info")
@click.argument("name")
@click.option("--input-size", type=click.IntRange(min=1), help="Build at this size (default: the card's default "
              "input size).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of the table.")
def info_command(name, input_size, as_json):
    """One backbone's card in full, and what building it at --input-size shows: its freeze
    layer's index, the cut where features are cached, parameters and GMACs."""
    backend.check_backend()  # before Keras is imported
    from .listing import card_info

    info = card_info(name, input_size)
    if as_json:
        return _emit_json(info)
    table = Table(title=f"{name}", show_header=False)
    table.add_column(justify="right", style="bold")
    table.add_column()
    for key, value in info.items():
        table.add_row(key.replace("_", " "), "-" if value is None else f"{value:,}" if isinstance(value, int)
                      and not isinstance(value, bool) else str(value))
    out.print(table)


@cli.command("layers")
@click.argument("name")
@click.option("--input-size", type=click.IntRange(min=1), help="Build at this size (default: the min input size).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of the table.")
def layers_command(name, input_size, as_json):
    """Every layer of backbone NAME, and whether the recommended freeze leaves it trainable."""
    backend.check_backend()  # before Keras is imported
    from .listing import layer_table

    size, rows = layer_table(name, input_size)
    card = registry.get_backbone(name)
    if as_json:
        return _emit_json(rows)
    table = Table(title=f"{name} at {size}x{size}: layers (recommended freeze: "
                        f"{card.freeze_layer or 'the whole backbone'})")
    for column in ("index", "name", "type", "output shape", "params", "trainable"):
        table.add_column(column, justify="right" if column in ("index", "params") else "left")
    for row in rows:
        table.add_row(str(row["index"]), row["name"], row["type"], row["output_shape"],
                      f"{row['params']:,}", "yes" if row["trainable"] else "[dim]frozen[/]")
    out.print(table)


@cli.command("plugins")
@click.option("--check", is_flag=True, help="Also build each backbone (without weights, at its min input size); "
              "a plugin whose backbone fails is broken.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of the table.")
def plugins_command(check, as_json):
    """Every plugin, loaded, partly rejected or broken, and what it registered."""
    if check:
        backend.check_backend()  # before Keras is imported
        from .listing import check_plugins  # builds every backbone: Keras only here

        report = check_plugins()
    else:
        report = registry.plugin_report()
    rows = [{"name": p.name, "distribution": p.distribution, "version": p.version,
             "backbones": p.backbones, "datasets": p.datasets, "heads": p.heads,
             "status": p.status, "error": p.error}
            for p in report]
    if as_json:
        return _emit_json(rows)
    table = Table(title="Plugins")
    for column in ("name", "distribution", "version", "registers", "status"):
        table.add_column(column)
    for row in rows:
        colour = {"ok": "green", "partial": "yellow"}.get(row["status"], "red")
        status = f"[{colour}]{row['status']}{': ' + escape(row['error']) if row['error'] else ''}[/]"
        registers = "; ".join(f"{kind}: {', '.join(row[kind])}" for kind in ("backbones", "datasets", "heads")
                              if row[kind])
        table.add_row(*map(escape, (row["name"], row["distribution"] or "-", row["version"] or "-", registers or "-")),
                      status)
    out.print(table)


@cli.command("datasets")
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of the table.")
def datasets_command(pattern, as_json):
    """The registered datasets matching PATTERN, and what `--data-dir` must hold for each."""
    rows = []
    for name in registry.list_datasets(pattern):
        entry = registry.registrations("dataset")[name]
        card = entry.card
        rows.append({"name": name, "plugin": plugins.provider(entry.plugin), "classes": card.num_classes,
                     "image_shape": "x".join(map(str, card.image_shape)) if card.image_shape else None,
                     "variants": list(card.variants), "argument": "PATH" if card.path_argument else card.argument or None,
                     "download": card.download is not None and not card.generated,
                     "generated": card.generated, "local_files": card.local_files,
                     "description": card.description})
    if as_json:
        return _emit_json(rows)
    table = Table(title="Registered datasets (--dataset NAME[:ARG])")
    for column in ("name", "classes", "images", "argument", "download", "--data-dir holds", "description"):
        table.add_column(column, justify="right" if column == "classes" else "left")
    for row in rows:
        argument = row["argument"] or " | ".join(row["variants"]) or "-"
        # Escaped: a card's text is the plugin's, and rich would take "zoo[tfds]" for markup.
        table.add_row(*map(escape, (row["name"], str(row["classes"] or "from files"), row["image_shape"] or "as found",
                                    argument, "generated" if row["generated"] else "yes" if row["download"] else "-",
                                    row["local_files"] or "-", row["description"])))
    out.print(table)


@cli.command("heads")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of the table.")
def heads_command(as_json):
    """The registered classifier heads (`zoo compare --head NAME`)."""
    rows = [{"name": name, "plugin": plugins.provider(r.plugin), "description": r.card.description}
            for name, r in registry.registrations("head").items()]
    if as_json:
        return _emit_json(rows)
    table = Table(title="Registered heads (after the backbone's pooling)")
    for column in ("name", "plugin", "layers"):
        table.add_column(column)
    for row in rows:
        table.add_row(*map(escape, (row["name"], row["plugin"], row["description"])))
    out.print(table)


def _given_recipe(recipe: dict) -> dict:
    """The recipe options given on the command line (the others are resolved by zoo.recipe)."""
    ctx = click.get_current_context()
    return {name: value for name, value in recipe.items() if ctx.get_parameter_source(name) != ParameterSource.DEFAULT}


def _default_output() -> Path:
    return Path("zoo-runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


@cli.command("compare")
@backbone_choice
@data_options
@recipe_options
@click.option("--no-cache", is_flag=True, help="Run the frozen layers on every step instead of caching their output.")
@click.option("--cache-budget-mb", type=click.FloatRange(min=0), help="Memory for cached features "
              "(default: half the available memory); above it training reads them memory-mapped.")
@no_store_option
@click.option("--top", type=click.IntRange(min=1), metavar="K", help="Rank the selection first (`zoo rank`) and "
              "fine-tune only the K best.")
@click.option("--rank-by", type=click.Choice(list(RANK_BY)), default="logme", show_default=True,
              help="--top: the score that ranks.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--seeds", metavar="S1,S2,...", help="Repeat every trial with each seed (overrides --seed).")
@click.option("--repeats", type=click.IntRange(min=1), help="Seeds 0..N-1 (like --seeds 0,1,...,N-1).")
@click.option("--resume", is_flag=True, help="Skip trials already finished in the --output folder under the "
              "same options; keep its other results.")
@click.option("--overwrite", is_flag=True, help="Replace the results and models an earlier run left in --output.")
@executor_options
@click.option("--output", type=click.Path(path_type=Path), help="Default: zoo-runs/<timestamp>/.")
@click.option("--save-models", type=click.Choice(["best", "all", "none"]), default="best", show_default=True,
              help="Keep the best trial's model per dataset, every trial's, or none.")
@click.option("--save-optimizer", is_flag=True, help="Keep the optimizer's state in saved models (to train on "
              "from them; larger).")
@mlflow_options
@click.option("--tensorboard", is_flag=True, help="Write each trial's TensorBoard logs under OUTPUT/tensorboard/ "
              "(`tensorboard --logdir OUTPUT`).")
@click.option("--retime", is_flag=True, help="Measure each step timing again, rather than reuse the one the "
              "feature store kept.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON instead of the table "
              "(stdout then holds the JSON alone).")
def compare_command(names, all_, max_params, max_gmacs, dataset, data_dir, strict, no_cache, cache_budget_mb, no_store, top,
                    rank_by, seed, seeds, repeats, resume,
                    overwrite, executor, jobs, address, cpus_per_trial, gpus_per_trial, output, save_models,
                    save_optimizer, mlflow, experiment, tensorboard, retime, as_json, **recipe):
    """Fine-tune backbones NAME... (wildcards expand; or --all) on a dataset under one protocol and
    compare them. The plan (backbones, images, GMACs from the cards) is printed before training.

    Results go to the output folder after each trial: results.json, results.csv,
    summary.json/.csv, histories.json, each backbone's best model (.keras), curves.png
    and tradeoff.png. A folder that holds an earlier run's results needs --resume or
    --overwrite.
    """
    from contextlib import nullcontext, redirect_stdout

    from .api import say_recommendations
    from .plan import plan  # no Keras: bad input is said at once

    ctx = click.get_current_context()
    checked = plan(
        names, dataset, all_=all_, max_params=max_params, max_gmacs=max_gmacs,
        given=_given_recipe(recipe), data_dir=data_dir, strict=strict, seeds=seeds, repeats=repeats, seed=seed,
        output=output or (None if resume else _default_output()), top=top, rank_by=rank_by,
        resume=resume,
        overwrite=overwrite, cache=not no_cache, cache_budget_mb=cache_budget_mb, store=not no_store, executor=executor, jobs=jobs,
        address=address, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
        plugins=ctx.find_root().params.get("extra_plugins", ()), save_models=save_models,
        save_optimizer=save_optimizer, mlflow=mlflow, experiment=experiment, tensorboard=tensorboard,
        retime=retime, command=shlex.join(["zoo", *sys.argv[1:]]))  # what ran, for the report
    say_recommendations(checked, err)
    from .comparison import run  # Keras, now that there is work
    from .report import results_table, summary_table

    # With --json, whatever else writes to stdout (Keras's "Downloading data from ...") goes to stderr.
    with redirect_stdout(sys.stderr) if as_json else nullcontext():
        outcome = run(checked, err)
    rows = [row.to_dict() for row in outcome.rows]
    tau = _agreement(checked.output)
    if as_json:
        _emit_json(rows)
    elif len({(row["dataset"], row["seed"]) for row in rows}) > 1:  # a grid (a resumed one too)
        out.print(summary_table(rows, note=tau))
    else:
        out.print(results_table(rows, note=tau))
        _say_written(checked.output, ("report.html", "results.json", "results.csv", "curves.png", "tradeoff.png"),
                     "Results")
    sys.exit(outcome.code)


def _say_written(folder, names, what: str) -> None:
    """Where the results are, naming only the files that are there (a full disk may have kept some out)."""
    written = [name for name in names if (folder / name).is_file()]
    if written:
        err.print(f"{what} in {folder}/ ({', '.join(written)})", highlight=False)


def _agreement(folder) -> str:
    """How well the folder's rank scores ranked its fine-tuned backbones (zoo.ranking), for a caption."""
    if folder is None:
        return ""
    from .agreement import agreement_caption
    from .run_folder import folder_agreement

    return agreement_caption(folder_agreement(folder))  # agreement.json was written with the results


@cli.command("rank")
@backbone_choice
@data_options
@feature_options
@no_store_option
@executor_options
@click.option("--output", type=click.Path(path_type=Path), help="Default: zoo-runs/<timestamp>/.")
@mlflow_options
@click.option("--rank-by", type=click.Choice(list(RANK_BY)), default="logme", show_default=True,
              help="The score that orders the table.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON, best first, instead of the table.")
def rank_command(names, all_, max_params, max_gmacs, dataset, data_dir, strict, no_store, executor, jobs, address,
                 cpus_per_trial, gpus_per_trial, output, mlflow, experiment, rank_by, as_json, **recipe):
    """Rank backbones NAME... (or --all) from their frozen features, without training: LogME, a
    5-nearest-neighbour accuracy and a linear probe's validation accuracy on each backbone's
    pooled features (features from the feature store, or extracted and stored). rank.json and rank.csv go to
    the output folder; with fine-tuned results there too, agreement.json says how well each
    score ranked them (Kendall's tau)."""
    from contextlib import nullcontext, redirect_stdout

    from .api import say_recommendations
    from .plan import plan  # no Keras: bad input is said at once

    checked = plan(names, dataset, all_=all_, max_params=max_params, max_gmacs=max_gmacs,
                   given=_given_recipe(recipe), data_dir=data_dir, strict=strict, output=output or _default_output(),
                   store=not no_store, executor=executor, jobs=jobs, address=address, cpus_per_trial=cpus_per_trial,
                   gpus_per_trial=gpus_per_trial, plugins=click.get_current_context().find_root().params.get(
                       "extra_plugins", ()), mlflow=mlflow, experiment=experiment, rank_by=rank_by)
    say_recommendations(checked, err, only=FEATURE_NAMES)
    from .ranking import rank  # Keras, now that there is work
    from .report import rank_table

    with redirect_stdout(sys.stderr) if as_json else nullcontext():
        rows, code = rank(checked, err)
    if as_json:
        _emit_json([row.to_dict() for row in rows])
    else:
        out.print(rank_table(rows, _agreement(checked.output)))
        _say_written(checked.output, ("rank.json", "rank.csv"), "Ranking")
    sys.exit(code)


from .benchmark.command import bench  # noqa: E402  (zoo bench lives in zoo/benchmark/)
cli.add_command(bench)
from .cache_command import cache  # noqa: E402  (zoo cache: the feature store)
cli.add_command(cache)


def main():  # pragma: no cover - for `python -m zoo`
    cli(prog_name="zoo")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
