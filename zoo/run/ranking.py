"""Ranking backbones from their frozen features, without training: ``zoo rank`` and ``zoo compare
--top K``.

Each backbone is a rank trial (zoo.training.probe) run through the shared run loop (zoo.run.loop) on the
same executors as compare; the rows go to rank.json and rank.csv after each (zoo.results.run_folder),
and where the folder also holds fine-tuned results, agreement.json says how well each score
ranked them (zoo.results.agreement).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import replace

from rich.console import Console

from ..core.rows import RANK_BY, RankRow, Status, best_first
from ..results import output as out_files
from ..results.run_folder import write_rank, write_skipped
from ..training.trials import Trial
from .loop import load_datasets, run_loop
from .plan import Plan


def as_rank_trials(trials: list[Trial]) -> list[Trial]:
    """A comparison's trials as rank trials: one per backbone and dataset (the first seed), no model."""
    seen, ranked = set(), []
    for trial in trials:
        if (trial.backbone, trial.dataset) not in seen:
            seen.add((trial.backbone, trial.dataset))
            ranked.append(replace(trial, task="rank", folder=None))
    return ranked


def rank_trials(trials: list[Trial], data: dict, plan: Plan, console: Console,
                show_progress: bool = True) -> tuple[list[RankRow], int]:
    """Run rank trials through the run loop, rank.json written after each (when the plan has an
    output folder). Returns the rows and the exit code (0, 1, or 2 for bad input); Ctrl-C saves
    what finished and raises KeyboardInterrupt."""
    rows: list[RankRow] = []

    def save():
        if plan.output is not None:
            write_rank(rows, plan.output)
            write_skipped(data, plan.output)

    code = run_loop(trials, data, plan.executor, console, title="ranking", show_progress=show_progress,
                    record=lambda trial, result: rows.append(result.row), save=save)
    return rows, code


def rank(plan: Plan, console: Console, show_progress: bool = True) -> tuple[list[RankRow], int]:
    """``zoo rank``: the planned backbones ranked, the output folder held while rank.json is
    written. Returns ``(rows best first by the plan's --rank-by score, exit code)``."""
    trials = as_rank_trials(plan.trials)
    with ExitStack() as stack:
        if plan.output is not None:
            stack.enter_context(out_files.hold(plan.output, plan.made_output))
        data = load_datasets(trials, console)
        rows, code = rank_trials(trials, data, plan, console, show_progress)
    return best_first(rows, RANK_BY[plan.rank_by]), code


def top_trials(plan: Plan, todo: list[Trial], data: dict, console: Console, show_progress: bool) -> list[Trial]:
    """``--top K``: rank every planned backbone of the datasets with work left (features from the
    store where it has them) and keep the trials of ``todo`` of the K best per dataset."""
    trials = [trial for trial in plan.trials if trial.dataset in data]
    ranked, _ = rank_trials(as_rank_trials(trials), data, plan, console, show_progress)
    keep = {}
    for dataset in data:
        order = [r for r in best_first([r for r in ranked if r.dataset == dataset], RANK_BY[plan.rank_by])
                 if r.status == Status.OK]
        keep[dataset] = [r.backbone for r in order[:plan.top]]
        console.print(f"{dataset}: ranked by {plan.rank_by}, fine-tuning the {len(keep[dataset])} best of "
                      f"{len(order)}: {', '.join(keep[dataset])}.", highlight=False)
    return [t for t in todo if t.backbone in keep.get(t.dataset, [])]
