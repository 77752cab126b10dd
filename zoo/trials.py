"""A comparison as a grid of trials: backbone x dataset x seed, under one recipe.

A ``Trial`` is a plain description that pickles and turns into JSON, so any executor
(this process, a subprocess, a Ray worker) can run it with ``run_trial``; what comes
back is the result row and the learning curves. The harness does the work.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from itertools import product
from pathlib import Path

from .datasets import reads_data_dir
from .errors import BadInput, ZooError
from .harness import CompareOptions, failed_row


@dataclass(frozen=True)
class Trial:
    backbone: str
    dataset: str
    seed: int
    options: CompareOptions  # the recipe; its output is this trial's folder
    data_dir: str | None = None
    limit: int | None = None
    plugins: tuple[str, ...] = ()  # --plugin specs, so a fresh process loads the same plugins

    @property
    def key(self) -> str:
        """What identifies the trial in the results (and for ``--resume``)."""
        return f"{self.backbone}|{self.dataset}|seed {self.seed}"

    @property
    def recipe(self) -> str:
        """The options that shape its result, as text: ``--resume`` runs a trial again when they changed."""
        # Caching changes how fast a trial trains, not what it learns (a test checks that).
        ignored = ("output", "dataset", "seed", "cache", "cache_budget_mb")
        options = {k: v for k, v in asdict(self.options).items() if k not in ignored}
        return json.dumps({**options, "limit": self.limit}, sort_keys=True, default=str)  # str: a NumPy number

    @property
    def slug(self) -> str:
        """The trial as a file name."""
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.backbone}-{self.dataset}-seed{self.seed}")

    def to_json(self) -> dict:
        data = asdict(self)
        data["options"]["output"] = str(self.options.output)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Trial":
        options = CompareOptions(**{**data["options"], "output": Path(data["options"]["output"])})
        return cls(**{**data, "options": options, "plugins": tuple(data["plugins"])})


def grid(backbones: list[str], datasets: list[str], seeds: list[int], options: CompareOptions, *,
         data_dir=None, limit=None, plugins=(), recipes=None) -> list[Trial]:
    """Every backbone x dataset x seed. With one dataset and one seed, each trial writes its
    model files in the output folder itself, as a plain comparison does; otherwise in a
    sub-folder per trial. ``recipes`` maps a dataset to its options (a dataset's recommended
    settings), default ``options``.
    """
    nested = len(datasets) > 1 or len(seeds) > 1
    trials = []
    for dataset, backbone, seed in product(datasets, backbones, seeds):
        base = (recipes or {}).get(dataset, options)
        # In a grid of datasets, --data-dir goes to those that read files from it; alone, a
        # dataset that cannot use it still gets it, and says so.
        folder = data_dir if len(datasets) == 1 or reads_data_dir(dataset) else None
        trial = Trial(backbone, dataset, seed, replace(base, dataset=dataset, seed=seed),
                      None if folder is None else str(folder), limit, tuple(plugins))
        if nested:
            trial = replace(trial, options=replace(trial.options, output=options.output / trial.slug))
        trials.append(trial)
    return trials


@dataclass
class TrialResult:
    row: dict
    history: dict
    bad_input: bool = False  # the failure was the user's input (exit code 2)


def failed(trial: Trial, error: str, bad_input: bool = False) -> TrialResult:
    row = failed_row(trial.backbone, trial.options, error)
    row.update(seed=trial.seed, trial=trial.key, recipe=trial.recipe)
    return TrialResult(row, {}, bad_input)


def run_trial(trial: Trial, data=None, progress=None, say=print) -> TrialResult:
    """Run one trial; every failure but Ctrl-C becomes a failed row.

    ``data`` is the dataset's ``ImageData`` when the executor loaded it once for all
    trials; otherwise it is read here.
    """
    from .datasets import load_dataset
    from .harness import Splits, run_backbone
    from .plugins import load_plugins, one_line
    from .registry import get_backbone

    load_plugins(trial.plugins)
    try:
        if data is None:
            data = load_dataset(trial.dataset, trial.data_dir)
        splits = Splits.from_data(data, trial.options.val_split, trial.limit)
        outcome = run_backbone(get_backbone(trial.backbone), splits, trial.options, progress, say)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # one trial failing must not lose the others
        error = str(exc) if isinstance(exc, ZooError) else one_line(exc)
        return failed(trial, error, isinstance(exc, BadInput))
    outcome.row.update(seed=trial.seed, trial=trial.key, recipe=trial.recipe)
    return TrialResult(outcome.row, outcome.history)
