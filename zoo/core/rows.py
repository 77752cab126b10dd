"""Result rows, typed: one ``TrialRow`` per compare trial, its fields the columns of
results.json/.csv, and one ``RankRow`` per rank trial (rank.json/.csv); a trial's state is a
``Status``, as optuna's trial states are an enum.

A failed trial's row is the same type with the figures left empty, so every row has
every column with its type: an integer column stays integer (``32``, never ``32.0``)
in the files and in the DataFrame, even when some rows have no value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import Enum

from .recipe import Recipe


class Status(str, Enum):
    """How a trial ended. A ``str``, so that files and frames hold the plain word."""

    OK = "ok"
    FAILED = "failed"  # an error, or interrupted: the row's ``error`` says which

    def __str__(self) -> str:
        return self.value


@dataclass
class TrialRow:
    """What one trial found. ``batch_size`` is per device, as given; ``devices`` says how many."""

    backbone: str
    dataset: str
    seed: int = 0
    status: str = Status.OK
    error: str | None = None
    # The data as the trial saw it.
    data_shape: str | None = None
    data_source: str | None = None
    data_note: str | None = None
    train_images: int | None = None
    val_images: int | None = None
    test_images: int | None = None
    skipped_images: int | None = None  # files left out as unreadable (folders)
    # The recipe (zoo.core.recipe.Recipe), resolved for this backbone where it says "recommended";
    # lr and dropout are the values chosen on validation where a list or --tune gave candidates.
    protocol: str | None = None  # fine-tune, or linear-probe (then C, and no lr, epochs or head)
    weights: str | None = None
    input_size: int | None = None
    resize: str | None = None
    freeze: str | None = None
    freeze_layer: str | None = None  # the first trainable layer (None: the whole backbone is frozen)
    freeze_index: int | None = None
    pooling: str | None = None
    preprocess: bool | None = None
    head: str | None = None
    dropout: float | None = None
    optimizer: str | None = None
    lr: float | None = None
    momentum: float | None = None
    epochs: int | None = None
    batch_size: int | None = None
    devices: int | None = None
    tune: int | None = None  # --tune N: candidates drawn by Optuna
    C: float | None = None  # the linear probe's inverse regularisation strength, chosen on validation
    val_split: float | None = None
    limit: int | None = None
    finetune_epochs: int | None = None
    finetune_lr: float | None = None
    unfreeze_from: str | None = None
    finetune_trainable_params: int | None = None
    # What it found.
    test_accuracy: float | None = None
    test_accuracy_low: float | None = None  # its 95% Wilson score interval over the test images
    test_accuracy_high: float | None = None
    balanced_accuracy: float | None = None  # the mean of the per-class recalls on the test split
    majority_accuracy: float | None = None  # the test accuracy of always predicting the largest class
    p_vs_best: float | None = None  # exact McNemar against the best of its dataset and seed, Holm-corrected
    tied_with_best: bool | None = None  # not significantly worse than the best at 5% (the best: True)
    test_loss: float | None = None
    best_val_accuracy: float | None = None
    total_params: int | None = None
    trainable_params: int | None = None
    non_trainable_params: int | None = None
    train_step_ms: float | None = None
    infer_images_per_s: float | None = None
    step_timing: str | None = None  # measured or reused (from the store), and whether under shared load
    timed_at: str | None = None  # when the step timing was measured (ISO 8601, local time)
    fit_seconds: float | None = None
    feature_cache: str | None = None
    feature_store: str | None = None  # hit: read from the feature store; miss: computed and stored
    model: str | None = None  # the saved model's path, relative to the output folder
    attempts: int | None = None  # 2: Ray ran it again after its worker died
    # Where it ran.
    device: str | None = None
    backend: str | None = None
    keras_version: str | None = None
    # Which trial, under which recipe (its fingerprint): what --resume compares.
    trial: str | None = None
    recipe: str | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "TrialRow":
        """A row read back from a file (this zoo's or an older one's): each value in its column's type."""
        known = {f.name: f for f in fields(cls)}
        return cls(**{name: _typed(value, _TYPES[name]) for name, value in data.items() if name in known})

    def to_dict(self) -> dict:
        return {**asdict(self), "status": str(self.status)}  # the plain word, in files and frames


def _column_type(annotation: str):
    """``int | None`` -> int: the type a column holds when it holds a value."""
    names = [part.strip() for part in annotation.split("|") if part.strip() != "None"]
    return {"int": int, "float": float, "bool": bool, "str": str}[names[0]]


_TYPES = {f.name: _column_type(f.type) for f in fields(TrialRow)}
COLUMNS = [f.name for f in fields(TrialRow)]
# pandas' nullable types: an empty cell does not turn a column of integers into floats.
DTYPES = {name: {int: "Int64", float: "Float64", bool: "boolean", str: "object"}[t] for name, t in _TYPES.items()}
RECIPE_COLUMNS = [f.name for f in fields(Recipe)]
assert set(RECIPE_COLUMNS) <= set(COLUMNS), "every recipe option is a result column"


def _typed(value, kind):
    """``value`` as a ``kind`` column holds it; ValueError when it cannot be one."""
    import pandas as pd

    if value is None or value is pd.NA or value == "" or (isinstance(value, float) and value != value):
        return None  # None, NaN, pandas' NA or an empty CSV cell: empty
    if kind is str:
        return value if isinstance(value, str) else str(value)
    if kind is bool:
        if isinstance(value, str) and value in ("True", "False"):
            return value == "True"
        if isinstance(value, bool):
            return value
        raise ValueError(f"{value!r} is not True or False")
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    number = float(value)  # numbers, or numbers written as text (ValueError otherwise)
    if kind is int:
        if not number.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        return int(number)  # 32.0 from an older zoo's file: 32
    return number


def frame(rows) -> "pandas.DataFrame":  # noqa: F821
    """Rows (``TrialRow`` or dicts) as a DataFrame with every column in its nullable type."""
    import pandas as pd

    records = [row.to_dict() if isinstance(row, TrialRow) else TrialRow.from_dict(row).to_dict() for row in rows]
    return pd.DataFrame(records, columns=COLUMNS).astype(DTYPES)



RANK_BY = {"logme": "logme", "knn": "knn_accuracy", "linear_probe": "linear_probe"}  # --rank-by NAME: the column


@dataclass
class RankRow:
    """What ranking one backbone on one dataset found (``zoo rank``)."""

    backbone: str
    dataset: str
    status: str = Status.OK
    error: str | None = None
    logme: float | None = None  # LogME evidence per sample on the training features: higher is better
    knn_accuracy: float | None = None  # 5-nearest-neighbour accuracy on the validation features
    linear_probe: float | None = None  # the linear probe's validation accuracy, at its best C (zoo.scores)
    feature_dim: int | None = None
    train_images: int | None = None
    val_images: int | None = None
    skipped_images: int | None = None  # files left out as unreadable (folders)
    extract_seconds: float | None = None  # getting the features (reading them, on a store hit)
    score_seconds: float | None = None
    feature_store: str | None = None  # hit, miss, or empty without the store
    weights: str | None = None
    input_size: int | None = None
    resize: str | None = None
    preprocess: bool | None = None
    pooling: str = "avg"
    attempts: int | None = None
    device: str | None = None
    backend: str | None = None
    keras_version: str | None = None

    def to_dict(self) -> dict:
        return {**asdict(self), "status": str(self.status)}  # the plain word, in files and frames

    @classmethod
    def from_dict(cls, data: dict) -> "RankRow":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def best_first(rows, by: str = "logme") -> list:
    """Finished rows by ``by`` (a column), best first; failed rows after them."""
    ok = [r for r in rows if r.status == Status.OK and getattr(r, by) is not None]
    return sorted(ok, key=lambda r: -getattr(r, by)) + [r for r in rows if r not in ok]
