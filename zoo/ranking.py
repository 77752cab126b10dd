"""Ranking backbones from their frozen features, without training: ``zoo rank``, ``zoo compare
--top K``, and how well a ranking agreed with fine-tuning (Kendall's tau).

Each backbone is a rank trial on the same executors as compare: its pooled features on
the training and validation splits (from the feature store, or extracted and stored),
scored against the labels by zoo.scores. The rows go to rank.json and rank.csv; where a
folder also holds fine-tuned results, agreement.json says how well each score ranked them.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from .output import finite, write_text

RANK_BY = {"logme": "logme", "knn": "knn_accuracy"}  # --rank-by NAME: the row's column
MIN_FOR_TAU = 3  # backbones with both a score and a test accuracy before tau means anything


@dataclass
class RankRow:
    """What ranking one backbone on one dataset found."""

    backbone: str
    dataset: str
    status: str = "ok"
    error: str | None = None
    logme: float | None = None  # LogME evidence per sample on the training features: higher is better
    knn_accuracy: float | None = None  # 5-nearest-neighbour accuracy on the validation features
    feature_dim: int | None = None
    train_images: int | None = None
    val_images: int | None = None
    extract_seconds: float | None = None  # getting the features (reading them, on a store hit)
    score_seconds: float | None = None
    feature_store: str | None = None  # hit, miss, or empty without the store
    weights: str | None = None
    input_size: int | None = None
    preprocess: bool | None = None
    pooling: str = "avg"
    attempts: int | None = None
    device: str | None = None
    backend: str | None = None
    keras_version: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RankRow":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def rank_row(trial, status: str = "failed", error: str | None = None) -> RankRow:
    from .harness import environment

    return RankRow(trial.backbone, trial.dataset, status, error, weights=trial.recipe.weights or "none",
                   input_size=trial.recipe.input_size, preprocess=trial.recipe.preprocess, attempts=1,
                   **environment())


def rank_backbone(card, splits, trial, progress=None, say=print) -> RankRow:
    """Pooled frozen features of the training and validation splits, scored: nothing trains."""
    import keras

    from .features import feature_key, frozen_features
    from .model import assemble
    from .scores import knn_accuracy, logme
    from .store import FeatureStore

    keras.utils.clear_session()
    recipe = trial.recipe
    size = recipe.input_size or max(max(splits.image_shape[:2]), card.min_input_size)
    assembled = assemble(card, splits.image_shape, splits.num_classes, input_size=size, weights=recipe.weights,
                         freeze="all", pooling="avg", preprocess=recipe.preprocess, seed=trial.seed)
    frozen = assembled.frozen or keras.Model(assembled.model.input, assembled.backbone.output)
    # Pooled as the published rankings pool (the penultimate layer's average): one vector per image.
    pooled = frozen if len(frozen.output.shape) == 2 else keras.Model(
        frozen.input, keras.layers.GlobalAveragePooling2D(name="rank_pool")(frozen.output))
    store = FeatureStore() if trial.store else None
    start, sources, got = time.perf_counter(), [], {}
    for part, x, y in (("train", splits.x_train, splits.y_train), ("val", splits.x_val, splits.y_val)):
        key = feature_key(assembled, weights=recipe.weights, preprocess=recipe.preprocess, pooling="avg",
                          dataset=trial.dataset, split=part, limit=recipe.limit, val_split=recipe.val_split,
                          x=x, y=y) if store else {}
        got[part], source = frozen_features(pooled, x, y, key, store, batch_size=recipe.batch_size, in_memory=True,
                                            progress=progress, label=f"{card.name} features ({part})", say=say)
        sources.append(source)
    extract_seconds = time.perf_counter() - start
    start = time.perf_counter()
    score = logme(got["train"], splits.y_train)
    knn = knn_accuracy(got["train"], splits.y_train, got["val"], splits.y_val)
    return replace(rank_row(trial, "ok"), logme=score, knn_accuracy=knn, feature_dim=int(got["train"].shape[1]),
                   train_images=len(splits.x_train), val_images=len(splits.x_val), extract_seconds=extract_seconds,
                   score_seconds=time.perf_counter() - start, input_size=size,
                   feature_store=("miss" if "miss" in sources else "hit") if any(sources) else None)


def best_first(rows, by: str = "logme") -> list:
    """Finished rows by ``by`` (a column), best first; failed rows after them."""
    ok = [r for r in rows if r.status == "ok" and getattr(r, by) is not None]
    return sorted(ok, key=lambda r: -getattr(r, by)) + [r for r in rows if r not in ok]


def read_rank(folder: Path) -> list[RankRow]:
    path = Path(folder) / "rank.json"
    try:
        return [RankRow.from_dict(row) for row in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError, AttributeError):
        return []  # none yet, or not zoo's: the next write replaces it


def write_rank(rows: list[RankRow], folder: Path) -> list[RankRow]:
    """rank.json and rank.csv in ``folder``: these rows, and the earlier ones of other backbones or
    datasets (a row for the same backbone and dataset is replaced); then agreement.json."""
    import pandas as pd

    mine = {(r.backbone, r.dataset) for r in rows}
    merged = best_first([r for r in read_rank(folder) if (r.backbone, r.dataset) not in mine] + list(rows))
    records = finite([r.to_dict() for r in merged])
    write_text(Path(folder) / "rank.json", json.dumps(records, indent=2, allow_nan=False) + "\n")
    write_text(Path(folder) / "rank.csv",
               pd.DataFrame(records, columns=[f.name for f in fields(RankRow)]).to_csv(index=False))
    write_agreement(folder, rank_rows=merged)
    return merged


def agreement(rank_rows, result_rows) -> list[dict]:
    """Per dataset and score, Kendall's tau and the weighted tau (scipy) between the score and the
    mean fine-tuned test accuracy over seeds, where at least ``MIN_FOR_TAU`` backbones have both."""
    from scipy.stats import kendalltau, weightedtau

    found = []
    for dataset in dict.fromkeys(r.dataset for r in rank_rows if r.status == "ok"):
        # Fine-tuned from the same weights as were ranked (random-weight scores say nothing of
        # ImageNet fine-tuning); rows that do not say which weights are taken as they come.
        weights = {r.backbone: r.weights for r in rank_rows if r.dataset == dataset}
        accuracies: dict[str, list[float]] = {}
        for row in result_rows:
            if (row.get("dataset") == dataset and row.get("status") == "ok" and row.get("test_accuracy") is not None
                    and row.get("weights") in (None, weights.get(row["backbone"]))):
                accuracies.setdefault(row["backbone"], []).append(float(row["test_accuracy"]))
        for score in RANK_BY.values():
            scores = {r.backbone: getattr(r, score) for r in rank_rows
                      if r.dataset == dataset and r.status == "ok" and getattr(r, score) is not None}
            common = sorted(set(scores) & set(accuracies))
            if len(common) < MIN_FOR_TAU:
                continue
            x = [scores[b] for b in common]
            y = [sum(accuracies[b]) / len(accuracies[b]) for b in common]
            tau = kendalltau(x, y)
            found.append({"dataset": dataset, "score": score, "n": len(common), "kendall_tau": float(tau.statistic),
                          "kendall_p": float(tau.pvalue), "weighted_tau": float(weightedtau(x, y).statistic),
                          "backbones": common})
    return found


def folder_agreement(folder: Path, rank_rows=None, result_rows=None) -> list[dict]:
    """``agreement`` of the rank and result rows given, or else read from ``folder``."""
    folder = Path(folder)
    rank_rows = read_rank(folder) if rank_rows is None else rank_rows
    if result_rows is None:
        try:
            result_rows = json.loads((folder / "results.json").read_text())
        except (OSError, ValueError):
            result_rows = []
    return agreement(rank_rows, [r if isinstance(r, dict) else r.to_dict() for r in result_rows])


def write_agreement(folder: Path, rank_rows=None, result_rows=None) -> list[dict]:
    """agreement.json (see ``folder_agreement``); returns what it holds."""
    found = folder_agreement(folder, rank_rows, result_rows)
    if found or (folder / "agreement.json").exists():
        write_text(folder / "agreement.json", json.dumps(finite(found), indent=2, allow_nan=False) + "\n")
    return found


def agreement_caption(found: list[dict]) -> str:
    """``LogME vs test accuracy (cifar10, 5 backbones): Kendall tau 0.60, weighted tau 0.71``."""
    from .report import _num

    names = {"logme": "LogME", "knn_accuracy": "k-NN"}
    return "; ".join(f"{names[a['score']]} vs test accuracy ({a['dataset']}, {a['n']} backbones): Kendall tau "
                     f"{_num(a['kendall_tau'], '.2f')}, weighted tau {_num(a['weighted_tau'], '.2f')}" for a in found)


def rank_trials(trials, data: dict, executor, console, show_progress: bool = True, output=None):
    """Run rank trials on ``executor``; rank.json is written after each (when ``output`` is given).
    Returns the rows and the exit code (0, 1, or 2 for bad input). Ctrl-C saves what finished
    and raises KeyboardInterrupt."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .executors import finishing, run_trials
    from .output import WriteError

    rows, code = [], 0

    def save():
        nonlocal code
        if output is None:
            return
        try:
            write_rank(rows, output)
        except WriteError as exc:
            console.print(f"[red]Error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            code = max(code, 1)

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, disable=not show_progress) as bar:
        overall = bar.add_task(f"ranking ({executor.name})", total=len(trials))
        results = run_trials(trials, data, executor, bar if show_progress else None, say=console.print)
        try:
            for trial, result in results:
                rows.append(result.row)
                for note in result.notes:  # said where the trial ran
                    console.print(f"{escape(trial.backbone)}: {escape(note)}", highlight=False)
                if result.row.status != "ok":
                    console.print(f"[red]{escape(trial.backbone)} failed:[/] {escape(result.row.error or '')}",
                                  highlight=False)
                    code = 2 if result.bad_input else max(code, 1)
                save()
                bar.advance(overall)
        except KeyboardInterrupt:
            with finishing(console.print):
                results.close()
                save()
            raise
    return rows, code


def as_rank_trials(trials) -> list:
    """A comparison's trials as rank trials: one per backbone and dataset (the first seed), no model."""
    seen, ranked = set(), []
    for trial in trials:
        if (trial.backbone, trial.dataset) not in seen:
            seen.add((trial.backbone, trial.dataset))
            ranked.append(replace(trial, task="rank", folder=None))
    return ranked


def rank(plan, console, show_progress: bool = True):
    """``zoo rank``: the planned backbones ranked (zoo.comparison.plan checks the input), the
    output folder held while rank.json is written. Returns ``(rows best first, exit code)``."""
    from contextlib import ExitStack

    from . import output as out_files
    from .comparison import load_datasets

    trials = as_rank_trials(plan.trials)
    with ExitStack() as stack:
        if plan.output is not None:
            stack.enter_context(out_files.hold(plan.output))
        data = load_datasets(trials, console)
        rows, code = rank_trials(trials, data, plan.executor, console, show_progress, plan.output)
    return best_first(rows), code


def rank_table(rows, note: str = ""):
    """The ranking as a rich table, best LogME first; failed backbones show their error."""
    from rich.markup import escape
    from rich.table import Table

    from .report import _num as num

    ok = [r for r in rows if r.status == "ok"]
    first = ok[0] if ok else None
    caption = (f"{', '.join(dict.fromkeys(r.dataset for r in rows))}, weights {first.weights}, pooled features "
               f"of the training split (k-NN: on the validation split) | device: {first.device} | Keras "
               f"{first.keras_version}, backend {first.backend}") if first else "no backbone was ranked"
    table = Table(title="zoo rank: frozen features scored, nothing trained", caption=caption + (f"\n{note}" if note else ""))
    for column in ("backbone", "dataset", "LogME", "k-NN acc", "feature dim", "input", "extract s", "score s", "store"):
        table.add_column(column, justify="left" if column in ("backbone", "dataset", "store") else "right")
    for row in rows:
        if row.status != "ok":
            table.add_row(row.backbone, row.dataset, f"[red]failed: {escape(str(row.error))}[/]")
            continue
        table.add_row(row.backbone, row.dataset, num(row.logme, ".3f"), num(row.knn_accuracy, ".1%"),
                      num(row.feature_dim, ","), num(row.input_size, "d"), num(row.extract_seconds, ".1f"),
                      num(row.score_seconds, ".2f"), row.feature_store or "off")
    return table
