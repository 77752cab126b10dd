"""A comparison as a grid of trials: backbone x dataset x seed, under one recipe.

A ``Trial`` is a plain description that pickles and turns into JSON, so any executor
(this process, a subprocess, a Ray worker) can run it with ``zoo.run.runner.run_trial``; what
comes back is a ``TrialResult``: the row and the learning curves. Nothing here imports Keras.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field, replace
from itertools import product
from pathlib import Path

from ..backend import environment
from ..core.recipe import Recipe
from ..core.rows import RankRow, Status, TrialRow
from ..data.datasets import DatasetSpec
from .tuning import single

EXECUTORS = ("local", "process", "ray")


@dataclass
class ExecutorOptions:
    """Where the trials run (zoo.run.executors): this process, fresh processes, or Ray."""

    name: str = "local"
    jobs: int = 1  # process: trials at a time
    address: str | None = None  # ray: None starts a local instance; "auto" or "ray://host:port" joins
    cpus_per_trial: float = 1
    gpus_per_trial: float = 0


@dataclass(frozen=True)
class Trial:
    """One backbone on one dataset with one seed, under ``recipe``; the rest says where and how
    it runs, not what it finds."""

    backbone: str
    spec: DatasetSpec  # the dataset, parsed: where its images come from
    seed: int
    recipe: Recipe
    folder: str | None = None  # where its model goes (None: keep no model)
    root: str | None = None  # the run's output folder, which row paths are relative to
    plugins: tuple[str, ...] = ()  # --plugin specs, so a fresh process loads the same plugins
    cache: bool = True  # cache frozen features: faster, same result (a test checks that)
    cache_budget_mb: float | None = None  # default: half the memory available now
    store: bool = True  # read and keep frozen features in the feature store (zoo.training.store)
    save_models: str = "all"  # best, all or none (zoo.run.comparison keeps the best; none: folder is None)
    save_optimizer: bool = False  # keep the optimizer's state in the saved model
    mlflow: str | None = None  # log to MLflow at this tracking URI ("": MLflow's default); None: not
    experiment: str | None = None  # the MLflow experiment (None: the dataset)
    tensorboard: str | None = None  # the folder of this trial's TensorBoard logs (None: none)
    task: str = "compare"  # compare: fine-tune (zoo.training.harness); rank: score frozen features (zoo.training.probe)
    retime: bool = False  # measure the step timing again, whatever the store holds
    shared_load: bool = False  # other trials run beside it (--jobs N, Ray): its timing is not a quiet one

    @property
    def dataset(self) -> str:
        """The dataset as the user named it: what rows and keys say."""
        return self.spec.text

    @property
    def key(self) -> str:
        """What identifies the trial in the results (and for ``--resume``)."""
        return f"{self.backbone}|{self.dataset}|seed {self.seed}"

    @property
    def slug(self) -> str:
        """The trial as a folder name (``trial_slug``)."""
        return trial_slug(self.backbone, self.dataset, self.seed)

    def model_path(self, backbone: str) -> str:
        """The saved model's path, relative to the run's output folder."""
        path = Path(self.folder) / f"{backbone}.keras"
        return str(path.relative_to(self.root)) if self.root else str(path)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Trial":
        # JSON turned candidate lists (--lr 1e-3,1e-2) into lists: the recipe holds tuples.
        recipe = {key: tuple(value) if isinstance(value, list) else value for key, value in data["recipe"].items()}
        return cls(**{**data, "spec": DatasetSpec(**data["spec"]), "recipe": Recipe(**recipe),
                      "plugins": tuple(data["plugins"])})


def trial_slug(backbone: str, dataset: str, seed: int) -> str:
    """A trial as a folder name: readable, short (a long folder:PATH would pass the file system's
    255 bytes), and unique through a hash of its key."""
    plain = f"{backbone}-{dataset}-seed{seed}"
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", plain)
    if readable == plain and len(readable) <= 80:
        return readable
    # Characters were replaced (folder:~/x and folder:/x would meet) or it is long: a hash of
    # the key keeps it unique.
    digest = hashlib.sha1(f"{backbone}|{dataset}|seed {seed}".encode()).hexdigest()[:10]
    return f"{readable[:60]}-{digest}"


def trial_labels(trials) -> dict[str, str]:
    """Trial key -> its name in messages and on plots, from ``(key, backbone, dataset, seed)``
    tuples: the backbone alone when every trial shares dataset and seed, else
    ``backbone dataset seed N``. Compare's progress and the report's legend both use it."""
    trials = list(trials)
    alone = len({(dataset, seed) for _, _, dataset, seed in trials}) <= 1
    return {key: backbone if alone else f"{backbone} {dataset} seed {seed}"
            for key, backbone, dataset, seed in trials}


def grid(backbones: list[str], datasets: list[DatasetSpec], seeds: list[int], recipes: dict[str, Recipe], *,
         output=None, plugins=(), cache=True, cache_budget_mb=None, store=True) -> list[Trial]:
    """Every backbone x dataset x seed, each dataset under its recipe (by its text). With one
    dataset and one seed, each trial writes its model in the output folder itself, as a plain
    comparison does; otherwise in a sub-folder per trial. With no ``output``, no model is kept.
    """
    nested = len(datasets) > 1 or len(seeds) > 1
    trials = []
    for spec, backbone, seed in product(datasets, backbones, seeds):
        trial = Trial(backbone, spec, seed, recipes[spec.text], None if output is None else str(output),
                      None if output is None else str(output), tuple(plugins), cache, cache_budget_mb, store)
        if nested and output is not None:
            trial = replace(trial, folder=str(Path(output) / trial.slug))
        trials.append(trial)
    return trials


@dataclass
class TrialResult:
    row: TrialRow  # a compare trial's; a rank trial's is a RankRow
    history: dict
    bad_input: bool = False  # the failure was the user's input (exit code 2)
    confusion: dict = field(default_factory=dict)  # classes, and matrix[true][predicted] on the test split
    notes: list = field(default_factory=list)  # what the trial said where it ran (a subprocess, a Ray worker)
    predictions: dict = field(default_factory=dict)  # PREDICTION_COLUMNS -> a list each, one per test image
    tuning: list = field(default_factory=list)  # one dict per candidate tried (zoo.training.tuning.TUNING_COLUMNS)

    def to_json(self) -> dict:
        return {"row": self.row.to_dict(), "history": self.history, "bad_input": self.bad_input,
                "confusion": self.confusion, "notes": self.notes, "predictions": self.predictions,
                "tuning": self.tuning, "task": "compare" if isinstance(self.row, TrialRow) else "rank"}

    @classmethod
    def from_json(cls, data: dict) -> "TrialResult":
        row = (RankRow if data.get("task") == "rank" else TrialRow).from_dict(data["row"])
        return cls(row, data["history"], data["bad_input"], data.get("confusion") or {}, data.get("notes") or [],
                   data.get("predictions") or {}, data.get("tuning") or [])


# predictions.csv, one row per test image: its position in the test split, its file (folders),
# its true and predicted class (names) and the predicted class's probability.
PREDICTION_COLUMNS = ["index", "path", "label", "predicted", "confidence"]


def trial_row(trial: Trial, status: Status = Status.FAILED, error: str | None = None) -> TrialRow:
    """A compare trial's row with what is known before it runs: its recipe, where it runs and its status."""
    recipe = trial.recipe
    return TrialRow(
        backbone=trial.backbone, dataset=trial.dataset, seed=trial.seed, status=status, error=error,
        protocol=recipe.protocol, weights=recipe.weights or "none", input_size=recipe.input_size,
        resize=recipe.resize, freeze=recipe.freeze, pooling=recipe.pooling, preprocess=recipe.preprocess,
        head=recipe.head, dropout=single(recipe.dropout), tune=recipe.tune,  # a list's choice: once it has run
        optimizer=recipe.optimizer, lr=single(recipe.lr), momentum=recipe.momentum, epochs=recipe.epochs,
        batch_size=recipe.batch_size, devices=recipe.devices if isinstance(recipe.devices, int) else None,
        val_split=recipe.val_split, limit=recipe.limit, finetune_epochs=recipe.finetune_epochs,
        finetune_lr=recipe.finetune_lr if recipe.finetune_epochs else None, unfreeze_from=recipe.unfreeze_from,
        attempts=1, trial=trial.key, recipe=recipe.fingerprint(), **environment())


def rank_row(trial: Trial, status: Status = Status.FAILED, error: str | None = None) -> RankRow:
    """A rank trial's row with what is known before it runs."""
    return RankRow(trial.backbone, trial.dataset, status, error, weights=trial.recipe.weights or "none",
                   input_size=trial.recipe.input_size, resize=trial.recipe.resize,
                   preprocess=trial.recipe.preprocess, attempts=1,
                   **environment())


def failed(trial: Trial, error: str, bad_input: bool = False) -> TrialResult:
    """A trial that failed (or never finished): its row, of its kind, saying why."""
    return TrialResult((rank_row if trial.task == "rank" else trial_row)(trial, Status.FAILED, error), {}, bad_input)
