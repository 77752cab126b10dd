"""A comparison: run the planned grid of trials through the run loop and never lose a finished
result: the output folder held by one run, ``--resume`` and ``--overwrite``, ``--top K``, and
the results written after every trial.

``zoo.compare(...)`` (the Python API) and ``zoo compare`` (the command line) both call
``zoo.run.plan.plan`` then ``run``: the same checks, the same recipe, the same rows.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field

from rich.console import Console

from ..backbones.checks import trial_input_size
from ..backbones.selection import plan_line
from ..core.files import remove_partials
from ..core.registry import get_backbone
from ..core.rows import Status, TrialRow
from ..data.datasets import counts
from ..errors import BadInput
from ..results import output as out_files
from ..results.run_folder import (earlier_run, model_intact, predictions_path, read_confusions, read_predictions,
                                  read_tuning, write_predictions, write_results, write_skipped)
from ..results.significance import with_significance
from ..training.trials import Trial, trial_labels
from .loop import interrupted_result, load_datasets, run_loop
from .plan import Plan
from .ranking import top_trials


@dataclass
class Outcome:
    rows: list[TrialRow]
    code: int  # the exit code: 0, 1 (a trial failed, a file not written), 2 (bad input), 130 (Ctrl-C)
    predictions: dict = field(default_factory=dict)  # trial key -> predictions.csv's columns


def run(plan: Plan, console: Console | None = None, progress: bool = True) -> Outcome:
    """Run the plan, writing the results after each trial (when there is an output folder).

    A trial that fails gets a failed row and the others go on (exit code 1, or 2 when the
    failure was bad input); a file that cannot be written is said in one line and its rows
    kept, written at the next chance (exit code 1); Ctrl-C keeps what finished (130).
    """
    console = console or Console(stderr=True)
    with ExitStack() as stack:
        if plan.output is not None:  # one run at a time in a folder
            stack.enter_context(out_files.hold(plan.output, plan.made_output))
            remove_partials(plan.output)
            if out_files.earlier_results(plan.output) and not (plan.resume or plan.overwrite):
                raise BadInput(f"{plan.output} already holds results of an earlier run: add --resume to keep "
                               "them and run only what is missing, --overwrite to replace them, or choose "
                               "another --output.")
            if plan.overwrite:
                try:
                    earlier = earlier_run(plan.output)[0]
                except BadInput:  # a results file zoo cannot read names no models: replace it alone
                    earlier = []
                out_files.clear_earlier(plan.output, [row.model or f"{row.backbone}.keras" for row in earlier]
                                        + [predictions_path(".", row) for row in earlier])
        return _run(plan, console, progress)


def _done(plan: Plan, earlier: list[TrialRow], say) -> set[str]:
    """Keys of the trials an earlier run finished under the same recipe, with their model intact."""
    by_key = {t.key: t for t in plan.trials}
    done, changed, broken = set(), 0, []
    for row in earlier:
        trial = by_key.get(row.trial)
        if row.status != Status.OK or trial is None:
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


def _say_plan(todo: list[Trial], data: dict, console: Console) -> None:
    """The plan line: the backbones, and the GMACs of a pass over the first dataset."""
    backbones = list(dict.fromkeys(t.backbone for t in todo))
    first = data[todo[0].dataset]
    sizes = {t.backbone: trial_input_size(get_backbone(t.backbone), t.recipe.input_size, first.image_shape,
                                          t.recipe.weights)
             for t in todo}
    limit = todo[0].recipe.limit
    images = sum(n if limit is None else min(n, limit) for n in counts(first))
    console.print(f"{plan_line(backbones, sizes, images)} {len(todo)} trial(s) to run.", highlight=False)


def _run(plan: Plan, console: Console, show_progress: bool) -> Outcome:
    earlier, histories = earlier_run(plan.output) if plan.resume else ([], {})
    confusions = read_confusions(plan.output) if plan.resume else {}
    predictions = read_predictions(plan.output, earlier) if plan.resume else {}
    tuning = read_tuning(plan.output) if plan.resume else {}
    done = _done(plan, earlier, console.print) if plan.resume else set()
    todo = [t for t in plan.trials if t.key not in done]
    # Every earlier row stays (other seeds, datasets or backbones too); one run again stays until
    # its new row arrives, so a run stopped before it gets there loses nothing.
    rerun = {t.key for t in todo}
    rows = [r for r in earlier if r.trial not in rerun]
    replaced = {r.trial: r for r in earlier if r.trial in rerun}
    data = load_datasets(todo, console)
    if plan.top is not None and todo:
        todo = top_trials(plan, todo, data, console, show_progress)
        rerun = {t.key for t in todo}
        rows += [row for key, row in replaced.items() if key not in rerun]  # not run again: they stay
        replaced = {key: row for key, row in replaced.items() if key in rerun}
    if todo:
        _say_plan(todo, data, console)
    labels = trial_labels((t.key, t.backbone, t.dataset, t.seed) for t in plan.trials)
    finished = set()  # this run's trials, whose models --save-models best may remove
    unwritten = {}  # trial key -> its row, whose predictions.csv is still to write (or remove)

    def record(trial, result):
        finished.add(trial.key)
        replaced.pop(trial.key, None)
        rows.append(result.row)
        histories[trial.key] = result.history
        confusions[trial.key] = result.confusion
        predictions[trial.key] = result.predictions
        tuning.pop(trial.key, None)
        if result.tuning:
            tuning[trial.key] = result.tuning
        # Its predictions.csv, or none: an earlier run's file of a trial that failed this time goes.
        unwritten[trial.key] = result.row

    def on_interrupted(trials):
        # The trials that had started and not reported get a failed row, unless an earlier
        # run's row stands for them; those never started get none.
        rows.extend(interrupted_result(t).row for t in trials if t.key not in replaced)

    def save() -> None:
        if plan.output is None:
            return
        beaten = []
        if plan.save_models == "best":  # of this run's models, those beaten: rows first, files after
            beaten = out_files.best_models_only([*rows, *replaced.values()], finished)
        for key, row in list(unwritten.items()):  # before the rows that point to them
            if predictions.get(key):
                write_predictions(plan.output, row, predictions[key])
            else:
                predictions_path(plan.output, row).unlink(missing_ok=True)
            del unwritten[key]
        write_results(with_significance([*rows, *replaced.values()], predictions), histories, plan.output,
                      confusions, plan.command, tuning, predictions, data)
        write_skipped(data, plan.output)
        for model in beaten:
            (plan.output / model).unlink(missing_ok=True)

    try:
        code = run_loop(todo, data, plan.executor, console, title="trials", record=record, save=save,
                        label=lambda trial: labels[trial.key], on_interrupted=on_interrupted,
                        show_progress=show_progress)
    except KeyboardInterrupt:
        if plan.output is not None and out_files.earlier_results(plan.output):
            console.print(f"Interrupted: results so far are in {plan.output}/")
        return Outcome(with_significance([*rows, *replaced.values()], predictions), 130, predictions)
    return Outcome(with_significance(rows, predictions), code, predictions)

