"""The commands that run trials: ``zoo compare`` (fine-tune and compare) and ``zoo rank``
(score frozen features). Each plans first (no Keras: bad input is said at once), then runs."""

from __future__ import annotations

import shlex
import sys
from datetime import datetime
from pathlib import Path

import click
from click.core import ParameterSource

from ..core.recipe import FEATURE_NAMES, feature_options, recipe_options
from ..core.rows import RANK_BY
from .console import emit_json, err, out, say_written
from .options import backbone_choice, data_options, executor_options, mlflow_options, no_store_option


def _given_recipe(recipe: dict) -> dict:
    """The recipe options given on the command line (the others are resolved by zoo.core.recipe)."""
    ctx = click.get_current_context()
    return {name: value for name, value in recipe.items() if ctx.get_parameter_source(name) != ParameterSource.DEFAULT}


def _default_output() -> Path:
    return Path("zoo-runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


@click.command("compare")
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

    from ..api import say_recommendations
    from ..run.plan import plan  # no Keras: bad input is said at once

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
    from ..run.comparison import run  # Keras, now that there is work
    from ..results.report import results_table, summary_table

    # With --json, whatever else writes to stdout (Keras's "Downloading data from ...") goes to stderr.
    with redirect_stdout(sys.stderr) if as_json else nullcontext():
        outcome = run(checked, err)
    rows = [row.to_dict() for row in outcome.rows]
    tau = _agreement(checked.output)
    if as_json:
        emit_json(rows)
    elif len({(row["dataset"], row["seed"]) for row in rows}) > 1:  # a grid (a resumed one too)
        out.print(summary_table(rows, note=tau))
    else:
        out.print(results_table(rows, note=tau))
        say_written(checked.output, ("report.html", "results.json", "results.csv", "curves.png", "tradeoff.png"),
                     "Results")
    sys.exit(outcome.code)


def _agreement(folder) -> str:
    """How well the folder's rank scores ranked its fine-tuned backbones (zoo.run.ranking), for a caption."""
    if folder is None:
        return ""
    from ..results.agreement import agreement_caption
    from ..results.run_folder import folder_agreement

    return agreement_caption(folder_agreement(folder))  # agreement.json was written with the results


@click.command("rank")
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

    from ..api import say_recommendations
    from ..run.plan import plan  # no Keras: bad input is said at once

    checked = plan(names, dataset, all_=all_, max_params=max_params, max_gmacs=max_gmacs,
                   given=_given_recipe(recipe), data_dir=data_dir, strict=strict, output=output or _default_output(),
                   store=not no_store, executor=executor, jobs=jobs, address=address, cpus_per_trial=cpus_per_trial,
                   gpus_per_trial=gpus_per_trial, plugins=click.get_current_context().find_root().params.get(
                       "extra_plugins", ()), mlflow=mlflow, experiment=experiment, rank_by=rank_by)
    say_recommendations(checked, err, only=FEATURE_NAMES)
    from ..run.ranking import rank  # Keras, now that there is work
    from ..results.report import rank_table

    with redirect_stdout(sys.stderr) if as_json else nullcontext():
        rows, code = rank(checked, err)
    if as_json:
        emit_json([row.to_dict() for row in rows])
    else:
        out.print(rank_table(rows, _agreement(checked.output)))
        say_written(checked.output, ("rank.json", "rank.csv"), "Ranking")
    sys.exit(code)
