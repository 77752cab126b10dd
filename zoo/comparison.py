"""A comparison: plan the grid of trials, check everything before any training, run it on an
executor, and never lose a finished result.

``zoo.compare(...)`` (the Python API) and ``zoo compare`` (the command line) both call
``plan`` then ``run``: the same checks, the same recipe, the same rows.
"""

from __future__ import annotations

import json
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import output as out_files
from .errors import BadInput
from .recipe import Recipe, flag, resolve
from .rows import TrialRow
from .trials import Trial, failed, grid, trial_labels

# Executor options, and the executor each belongs to: given under another, they are refused.
EXECUTOR_OPTIONS = {"jobs": "process", "address": "ray", "cpus_per_trial": "ray", "gpus_per_trial": "ray"}


@dataclass
class Plan:
    """Everything a comparison will do, decided and checked before any training."""

    trials: list[Trial]
    executor: object  # zoo.executors.ExecutorOptions
    output: Path | None
    resume: bool = False
    overwrite: bool = False
    applied: dict = field(default_factory=dict)  # dataset -> the recommendations it applied
    datasets: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    top: int | None = None  # rank the backbones first and fine-tune the ``top`` best (zoo.ranking)
    rank_by: str = "logme"
    save_models: str = "best"  # best: only the best trial's model per dataset stays; all; none
    command: str = ""  # what ran, for the report


@dataclass
class Outcome:
    rows: list[TrialRow]
    code: int  # the exit code: 0, 1 (a trial failed, a file not written), 2 (bad input), 130 (Ctrl-C)


def seed_list(seeds=None, repeats: int | None = None, seed: int = 0) -> list[int]:
    """``--seeds 1,2`` (or a list), ``--repeats N`` (seeds 0..N-1) or the one ``--seed``."""
    if seeds is not None and repeats:
        raise BadInput("give --seeds or --repeats, not both.")
    if repeats:
        return list(range(repeats))
    if seeds is not None:
        if isinstance(seeds, str):
            try:
                seeds = [int(s) for s in seeds.split(",") if s.strip()]
            except ValueError:
                raise BadInput(f"--seeds {seeds!r} is not a comma-separated list of integers.") from None
        if not seeds:
            raise BadInput("--seeds: give at least one seed.")
        return list(dict.fromkeys(int(s) for s in seeds))
    return [seed]


def plan(backbones, dataset: str = "cifar10", *, given: dict, data_dir=None, seeds=None, repeats=None,
         seed: int = 0, output=None, resume: bool = False, overwrite: bool = False, cache: bool = True,
         cache_budget_mb=None, store: bool = True, executor: str = "local", jobs=None, address=None, cpus_per_trial=None,
         gpus_per_trial=None, plugins=(), all_: bool = False, max_params=None, max_gmacs=None,
         top: int | None = None, rank_by: str = "logme", save_models: str = "best", save_optimizer: bool = False,
         mlflow: str | None = None, experiment: str | None = None, tensorboard: bool = False,
         command: str = "") -> Plan:
    """The checked plan: backbones (or ``all_``), datasets and their recipes (``given`` > the
    dataset's recommendation > the default), seeds, executor and output. An executor option
    left None is not given. Any bad input raises BadInput."""
    from .datasets import parse_dataset_specs
    from .executors import EXECUTORS, ExecutorOptions
    from .listing import choose
    from .plugins import load_plugins
    from .registry import get_backbone, get_head
    from .tracking import where_results_go

    load_plugins(tuple(plugins))
    names = [backbones] if isinstance(backbones, str) else list(backbones or [])
    cards = [get_backbone(name) for name in choose(names, all_, max_params=max_params, max_gmacs=max_gmacs)]
    specs = parse_dataset_specs(dataset)
    recipes, applied = {}, {}
    for spec in specs:  # each dataset under its own recommendations
        recipes[spec], applied[spec] = resolve(given, spec)
    for recipe in dict.fromkeys(recipes.values()):
        get_head(recipe.head)  # an unknown head fails before any data is read
        check_weights(recipe.weights, cards)
        if recipe.input_size is not None:
            from .model import check_input_size

            for card in cards:
                check_input_size(card, recipe.input_size)
    if executor not in EXECUTORS:
        raise BadInput(f"--executor {executor!r}: use one of {', '.join(EXECUTORS)}.")
    executor_given = {name: value for name, value in (("jobs", jobs), ("address", address),
                      ("cpus_per_trial", cpus_per_trial), ("gpus_per_trial", gpus_per_trial)) if value is not None}
    for name in executor_given:
        if EXECUTOR_OPTIONS[name] != executor:
            raise BadInput(f"{flag(name)} applies to --executor {EXECUTOR_OPTIONS[name]} only: add "
                           f"--executor {EXECUTOR_OPTIONS[name]}, or leave {flag(name)} out.")
    if resume and overwrite:
        raise BadInput("give --resume (keep the earlier results) or --overwrite (replace them), not both.")
    if resume and output is None:
        raise BadInput("--resume needs --output FOLDER: the folder of the run to resume.")
    from .ranking import RANK_BY

    if rank_by not in RANK_BY:
        raise BadInput(f"--rank-by {rank_by!r}: choose one of {', '.join(RANK_BY)}.")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise BadInput(f"--top {top!r}: give the number of backbones to fine-tune (1 or more).")
    seeds = seed_list(seeds, repeats, seed)
    output = None if output is None else out_files.check_folder(Path(output))
    trials = grid([card.name for card in cards], specs, seeds, recipes, output=output,
                  data_dir=data_dir, plugins=plugins, cache=cache, cache_budget_mb=cache_budget_mb, store=store)
    trials = where_results_go(trials, output, save_models, save_optimizer, mlflow, experiment, tensorboard)
    if store and cache:
        from .store import check_store

        check_store()
    return Plan(trials, ExecutorOptions(executor, **executor_given), output, resume, overwrite, applied,
                specs, seeds, top, rank_by, save_models, command)


def check_weights(weights, cards) -> None:
    """A weights file fits one architecture: refused for several backbones before any work."""
    if weights in (None, "imagenet"):
        return
    if len(cards) > 1:
        raise BadInput(f"--weights {weights}: one weights file cannot fit {len(cards)} backbones "
                       f"({', '.join(c.name for c in cards)}); compare one backbone with its own file, "
                       "or use --weights imagenet or --weights none.")
    from .model import check_weights_file

    check_weights_file(weights, cards[0].name)


def earlier_run(folder: Path) -> tuple[list[TrialRow], dict[str, dict]]:
    """The rows and learning curves an earlier run left in ``folder`` (none when it left nothing)."""
    fix = "move it away to run every trial again, or resume into another --output folder."

    def read(path, empty, shape):
        try:
            data = json.loads(path.read_text()) if path.is_file() else empty
        except json.JSONDecodeError as exc:
            raise BadInput(f"{path} is not valid JSON ({exc.msg}): {fix}") from None
        if not shape(data):
            raise BadInput(f"{path} is not what zoo writes (valid JSON of another shape): {fix}")
        return data

    rows = read(folder / "results.json", [], lambda d: isinstance(d, list) and all(
        isinstance(r, dict) and isinstance(r.get("backbone"), str) and isinstance(r.get("dataset"), str)
        for r in d))
    histories = read(folder / "histories.json", {}, lambda d: isinstance(d, dict) and all(
        isinstance(h, dict) for h in d.values()))
    earlier = []
    for data in rows:  # rows from a zoo before trials had keys were one-seed runs
        try:
            row = TrialRow.from_dict(data)
            json.loads(row.recipe) if row.recipe else None
        except (TypeError, ValueError) as exc:
            raise BadInput(f"{folder / 'results.json'} is not what zoo writes ({exc}): {fix}") from None
        row.seed = 0 if row.seed is None else row.seed
        row.trial = row.trial or f"{row.backbone}|{row.dataset}|seed {row.seed}"
        earlier.append(row)
    return earlier, histories


def read_confusions(folder: Path) -> dict:
    """The confusion matrices an earlier run left (none when it left none, or not zoo's)."""
    try:
        found = json.loads((folder / "confusion.json").read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def model_intact(path: Path) -> bool:
    """Whether a saved .keras model is a complete file (a zip whose directory, at its end, reads)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return bool(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _done(plan: Plan, earlier: list[TrialRow], say) -> set[str]:
    """Keys of the trials an earlier run finished under the same recipe, with their model intact."""
    by_key = {t.key: t for t in plan.trials}
    done, changed, broken = set(), 0, []
    for row in earlier:
        trial = by_key.get(row.trial)
        if row.status != "ok" or trial is None:
            continue
        # A row with no recipe comes from a zoo that did not record one: taken as done, as it was then.
        if row.recipe not in (None, trial.recipe.fingerprint()):
            changed += 1
            continue
        if row.model is None and row.recipe is not None:  # its model was not kept (--save-models)
            done.add(row.trial)
            continue
        model = plan.output / (row.model or trial.model_path(trial.backbone))
        if not model_intact(model):
            broken.append(str(model))
            continue
        done.add(row.trial)
    say(f"Resuming: {len(done)} of {len(plan.trials)} trials already done in {plan.output}/.")
    if changed:
        say(f"{changed} finished trial(s) there ran under other options: running them again.")
    for model in broken:
        say(f"{model} is missing or incomplete: running its trial again.")
    return done


def load_data(spec: str, data_dir, console: Console):
    """``--dataset spec`` from ``data_dir``, or from Keras's cache or download (Keras draws its bar)."""
    from .datasets import load_dataset

    where = data_dir or "Keras's cache, downloading it if needed"
    with console.status(f"{spec}: reading {where}..."):
        return load_dataset(spec, data_dir)


def load_datasets(trials, console: Console) -> dict:
    """The data of every dataset the trials use, each read once and its splits checked."""
    data = {}
    for trial in trials:
        if trial.dataset not in data:
            data[trial.dataset] = load_data(trial.dataset, trial.data_dir, console)
            check_splits(trial.dataset, data[trial.dataset], trial.recipe)
    return data


def check_splits(spec: str, data, recipe: Recipe) -> None:
    from .harness import Splits

    splits = Splits.from_data(data, recipe.val_split, recipe.limit)
    if len(splits.x_train) == 0 or len(splits.x_val) == 0 or len(splits.x_test) == 0:
        raise BadInput(f"{spec}: {len(splits.x_train)} train, {len(splits.x_val)} validation and "
                       f"{len(splits.x_test)} test images: raise --limit or change --val-split so that none is empty.")


def run(plan: Plan, console: Console | None = None, progress: bool = True) -> Outcome:
    """Run the plan, writing the results after each trial (when there is an output folder).

    A trial that fails gets a failed row and the others go on (exit code 1, or 2 when the
    failure was bad input); a file that cannot be written is said in one line and its rows
    kept, written at the next chance (exit code 1); Ctrl-C keeps what finished (130).
    """
    console = console or Console(stderr=True)
    with ExitStack() as stack:
        if plan.output is not None:
            stack.enter_context(out_files.hold(plan.output))  # one run at a time in a folder
            out_files.remove_partials(plan.output)
            if out_files.earlier_results(plan.output) and not (plan.resume or plan.overwrite):
                raise BadInput(f"{plan.output} already holds results of an earlier run: add --resume to keep "
                               "them and run only what is missing, --overwrite to replace them, or choose "
                               "another --output.")
            if plan.overwrite:
                try:
                    earlier = earlier_run(plan.output)[0]
                except BadInput:  # a results file zoo cannot read names no models: replace it alone
                    earlier = []
                out_files.clear_earlier(plan.output, [row.model or f"{row.backbone}.keras" for row in earlier])
        return _run(plan, console, progress)


def _top(plan: Plan, todo: list[Trial], data: dict, console: Console, show_progress: bool) -> list[Trial]:
    """--top K: rank every planned backbone (features from the store where it has them) and keep
    the trials of the K best per dataset."""
    from .ranking import RANK_BY, as_rank_trials, best_first, rank_trials

    # Every planned backbone of the datasets with work left (the others are done already).
    trials = [trial for trial in plan.trials if trial.dataset in data]
    ranked, _ = rank_trials(as_rank_trials(trials), data, plan.executor, console, show_progress, plan.output)
    keep = {}
    for dataset in data:
        order = [r for r in best_first([r for r in ranked if r.dataset == dataset], RANK_BY[plan.rank_by])
                 if r.status == "ok"]
        keep[dataset] = [r.backbone for r in order[:plan.top]]
        console.print(f"{dataset}: ranked by {plan.rank_by}, fine-tuning the {len(keep[dataset])} best of "
                      f"{len(order)}: {', '.join(keep[dataset])}.", highlight=False)
    return [t for t in todo if t.backbone in keep.get(t.dataset, [])]


def _run(plan: Plan, console: Console, show_progress: bool) -> Outcome:
    from .executors import finishing, run_trials
    from .registry import get_backbone
    from .report import write_results

    earlier, histories = earlier_run(plan.output) if plan.resume else ([], {})
    confusions = read_confusions(plan.output) if plan.resume else {}
    done = _done(plan, earlier, console.print) if plan.resume else set()
    todo = [t for t in plan.trials if t.key not in done]
    # Every earlier row stays (other seeds, datasets or backbones too); one run again stays until
    # its new row arrives, so a run stopped before it gets there loses nothing.
    rerun = {t.key for t in todo}
    rows = [r for r in earlier if r.trial not in rerun]
    replaced = {r.trial: r for r in earlier if r.trial in rerun}
    data = load_datasets(todo, console)
    if plan.top is not None and todo:
        todo = _top(plan, todo, data, console, show_progress)
        rerun = {t.key for t in todo}
        rows += [row for key, row in replaced.items() if key not in rerun]  # not run again: they stay
        replaced = {key: row for key, row in replaced.items() if key in rerun}

    if todo:
        from .listing import plan_line

        backbones = list(dict.fromkeys(t.backbone for t in todo))
        first = data[todo[0].dataset]
        side = max(first.image_shape[:2])
        sizes = {t.backbone: t.recipe.input_size or max(side, get_backbone(t.backbone).min_input_size) for t in todo}
        limit = todo[0].recipe.limit
        images = len(first.x_train[:limit]) + len(first.x_test[:limit])
        console.print(f"{plan_line(backbones, sizes, images)} "
                      f"{len(todo)} trial(s) to run.", highlight=False)
    labels = trial_labels((t.key, t.backbone, t.dataset, t.seed) for t in plan.trials)

    def label(trial) -> str:
        return labels[trial.key]

    code = 0
    unsaved = False

    def save() -> None:
        nonlocal code, unsaved
        if plan.output is None:
            return
        try:
            beaten = []
            if plan.save_models == "best":  # of this run's models, those beaten: rows first, files after
                beaten = out_files.best_models_only([*rows, *replaced.values()], finished)
            write_results([*rows, *replaced.values()], histories, plan.output, confusions, plan.command)
            for model in beaten:
                (plan.output / model).unlink(missing_ok=True)
            unsaved = False
        except out_files.WriteError as exc:  # say it, keep the rows, and go on with the others
            console.print(f"[red]Error:[/] {escape(str(exc))} The results stay in memory and are written at the next "
                          "chance.", highlight=False, soft_wrap=True)
            code, unsaved = max(code, 1), True

    name = plan.executor.name
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, disable=not show_progress) as bar:
        overall = bar.add_task(f"trials ({name})", total=len(todo))
        counts = {"done": 0, "failed": 0}
        begun, running, finished = set(), set(), set()  # trial keys (Ray: started = handed to Ray)
        # Under Ray the driver cannot tell a running trial from a queued one.
        busy = "in Ray" if name == "ray" else "running"

        def show_counts():
            bar.update(overall, description=f"trials ({name}): {counts['done']} done, "
                       f"{counts['failed']} failed, {len(running)} {busy}")

        def started(trial):  # under --executor process, called from the executor's threads
            begun.add(trial.key)
            running.add(trial.key)
            show_counts()

        def ended(trial):
            running.discard(trial.key)

        def retried(trial, why):
            console.print(f"[yellow]{escape(label(trial))}: {escape(why)}; running it once more.[/]", highlight=False)

        results = run_trials(todo, data, plan.executor, bar if show_progress else None, say=console.print,
                             started=started, ended=ended, retried=retried)
        try:
            for trial, result in results:
                finished.add(trial.key)
                for note in result.notes:  # said where the trial ran
                    console.print(f"{escape(label(trial))}: {escape(note)}", highlight=False)
                replaced.pop(trial.key, None)
                rows.append(result.row)
                histories[trial.key] = result.history
                confusions[trial.key] = result.confusion
                if result.row.status != "ok":
                    counts["failed"] += 1
                    console.print(f"[red]{escape(label(trial))} failed:[/] {escape(result.row.error or '')}",
                                  highlight=False)
                    code = 2 if result.bad_input else max(code, 1)
                else:
                    counts["done"] += 1
                save()
                bar.advance(overall)
                show_counts()
        except KeyboardInterrupt:
            with finishing(console.print):  # a second Ctrl-C must not cut the saving short
                results.close()  # the executor ends the trials still running
                # The trials that had started and not reported get a failed row, unless an earlier run's
                # row stands for them; those never started get none.
                rows += [failed(trial, "interrupted (Ctrl-C)").row for trial in todo
                         if trial.key in begun and trial.key not in finished and trial.key not in replaced]
                save()
            if plan.output is not None:
                console.print(f"Interrupted: results so far are in {plan.output}/")
            return Outcome([*rows, *replaced.values()], 130)
    if unsaved:
        save()  # one more try: space may have been freed meanwhile
    return Outcome(rows, code)
