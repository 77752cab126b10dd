"""A comparison as a grid of trials: backbone x dataset x seed, under one recipe.

A ``Trial`` is a plain description that pickles and turns into JSON, so any executor
(this process, a subprocess, a Ray worker) can run it with ``run_trial``; what comes
back is the result row and the learning curves. The harness does the work.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field, replace
from itertools import product
from pathlib import Path

from .datasets import reads_data_dir
from .errors import BadInput, ZooError
from .recipe import Recipe
from .rows import TrialRow


@dataclass(frozen=True)
class Trial:
    """One backbone on one dataset with one seed, under ``recipe``; the rest says where and how
    it runs, not what it finds."""

    backbone: str
    dataset: str
    seed: int
    recipe: Recipe
    folder: str | None = None  # where its model goes (None: keep no model)
    root: str | None = None  # the run's output folder, which row paths are relative to
    data_dir: str | None = None  # where the dataset's files are (None: Keras's cache or download)
    plugins: tuple[str, ...] = ()  # --plugin specs, so a fresh process loads the same plugins
    cache: bool = True  # cache frozen features: faster, same result (a test checks that)
    cache_budget_mb: float | None = None  # default: half the memory available now
    store: bool = True  # read and keep frozen features in the feature store (zoo.store)
    save_models: str = "all"  # best, all or none (zoo.comparison keeps the best; none: folder is None)
    save_optimizer: bool = False  # keep the optimizer's state in the saved model
    mlflow: str | None = None  # log to MLflow at this tracking URI ("": MLflow's default); None: not
    experiment: str | None = None  # the MLflow experiment (None: the dataset)
    tensorboard: str | None = None  # the folder of this trial's TensorBoard logs (None: none)
    task: str = "compare"  # compare: fine-tune (zoo.harness); rank: score frozen features (zoo.ranking)

    @property
    def key(self) -> str:
        """What identifies the trial in the results (and for ``--resume``)."""
        return f"{self.backbone}|{self.dataset}|seed {self.seed}"

    @property
    def slug(self) -> str:
        """The trial as a folder name: readable, short (a long folder:PATH would pass the file
        system's 255 bytes), and unique through a hash of the key."""
        plain = f"{self.backbone}-{self.dataset}-seed{self.seed}"
        readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", plain)
        if readable == plain and len(readable) <= 80:
            return readable
        # Characters were replaced (folder:~/x and folder:/x would meet) or it is long: a hash of
        # the key keeps it unique.
        digest = hashlib.sha1(self.key.encode()).hexdigest()[:10]
        return f"{readable[:60]}-{digest}"

    def model_path(self, backbone: str) -> str:
        """The saved model's path, relative to the run's output folder."""
        path = Path(self.folder) / f"{backbone}.keras"
        return str(path.relative_to(self.root)) if self.root else str(path)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Trial":
        return cls(**{**data, "recipe": Recipe(**data["recipe"]), "plugins": tuple(data["plugins"])})


def trial_labels(trials) -> dict[str, str]:
    """Trial key -> its name in messages and on plots, from ``(key, backbone, dataset, seed)``
    tuples: the backbone alone when every trial shares dataset and seed, else
    ``backbone dataset seed N``. Compare's progress and the report's legend both use it."""
    trials = list(trials)
    alone = len({(dataset, seed) for _, _, dataset, seed in trials}) <= 1
    return {key: backbone if alone else f"{backbone} {dataset} seed {seed}"
            for key, backbone, dataset, seed in trials}


def grid(backbones: list[str], datasets: list[str], seeds: list[int], recipes: dict[str, Recipe], *,
         output=None, data_dir=None, plugins=(), cache=True, cache_budget_mb=None, store=True) -> list[Trial]:
    """Every backbone x dataset x seed, each dataset under its recipe. With one dataset and one
    seed, each trial writes its model in the output folder itself, as a plain comparison does;
    otherwise in a sub-folder per trial. With no ``output``, no model is kept.
    """
    nested = len(datasets) > 1 or len(seeds) > 1
    trials = []
    for dataset, backbone, seed in product(datasets, backbones, seeds):
        # In a grid of datasets, --data-dir goes to those that read files from it; alone, a
        # dataset that cannot use it still gets it, and says so.
        folder = data_dir if len(datasets) == 1 or reads_data_dir(dataset) else None
        trial = Trial(backbone, dataset, seed, recipes[dataset], None if output is None else str(output),
                      None if output is None else str(output), None if folder is None else str(folder),
                      tuple(plugins), cache, cache_budget_mb, store)
        if nested and output is not None:
            trial = replace(trial, folder=str(Path(output) / trial.slug))
        trials.append(trial)
    return trials


@dataclass
class TrialResult:
    row: TrialRow  # a compare trial's; a rank trial's is a zoo.ranking.RankRow
    history: dict
    bad_input: bool = False  # the failure was the user's input (exit code 2)
    confusion: dict = field(default_factory=dict)  # classes, and matrix[true][predicted] on the test split
    notes: list = field(default_factory=list)  # what the trial said where it ran (a subprocess, a Ray worker)

    def to_json(self) -> dict:
        return {"row": self.row.to_dict(), "history": self.history, "bad_input": self.bad_input,
                "confusion": self.confusion, "notes": self.notes,
                "task": "compare" if isinstance(self.row, TrialRow) else "rank"}

    @classmethod
    def from_json(cls, data: dict) -> "TrialResult":
        from .ranking import RankRow

        row = (RankRow if data.get("task") == "rank" else TrialRow).from_dict(data["row"])
        return cls(row, data["history"], data["bad_input"], data.get("confusion") or {}, data.get("notes") or [])


def failed(trial: Trial, error: str, bad_input: bool = False) -> TrialResult:
    from .harness import trial_row
    from .ranking import rank_row

    return TrialResult((rank_row if trial.task == "rank" else trial_row)(trial, "failed", error), {}, bad_input)


def run_trial_away(trial: Trial, data) -> TrialResult:
    """``run_trial`` where nobody watches (a trial subprocess, a Ray worker): what it says goes
    back with its result, for the driver to say."""
    notes = []
    result = run_trial(trial, data, say=lambda *parts, **_: notes.append(" ".join(map(str, parts))))
    result.notes = notes
    return result


def run_trial(trial: Trial, data=None, progress=None, say=print) -> TrialResult:
    """Run one trial; every failure but Ctrl-C becomes a failed row.

    ``data`` is the dataset's ``ImageData`` when the executor loaded it once for all
    trials; otherwise it is read here.
    """
    from .datasets import load_dataset
    from .harness import Splits, run_backbone
    from .ranking import rank_backbone
    from .errors import one_line
    from .plugins import load_plugins
    from .registry import get_backbone

    load_plugins(trial.plugins)
    try:
        if data is None:
            data = load_dataset(trial.dataset, trial.data_dir)
        splits = Splits.from_data(data, trial.recipe.val_split, trial.recipe.limit)
        if trial.task == "rank":
            result = TrialResult(rank_backbone(get_backbone(trial.backbone), splits, trial, progress, say), {})
        else:
            outcome = run_backbone(get_backbone(trial.backbone), splits, trial, progress, say)
            result = TrialResult(outcome.row, outcome.history, confusion=outcome.confusion)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # one trial failing must not lose the others
        error = str(exc) if isinstance(exc, ZooError) else one_line(exc)
        result = failed(trial, error, isinstance(exc, BadInput))
    if trial.mlflow is not None:  # where the trial ran: a subprocess or a Ray worker logs its own run
        from .tracking import log_trial

        try:
            log_trial(trial, result)
        except Exception as exc:  # the result stands: it is in the output folder all the same
            say(f"{trial.backbone}: could not log to MLflow ({one_line(exc)}).")
    return result
