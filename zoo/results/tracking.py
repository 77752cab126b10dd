"""An MLflow run per trial (``--mlflow``; the plan checks the option, zoo.run.plan).

Each trial logs its own run from wherever it runs (this process, a trial subprocess, a
Ray worker), through MLflow's client: the resolved recipe as params, the per-epoch metrics
with their step, the final metrics, tags saying where it ran, the curves, the confusion
matrix and, with ``--save-models all``, the model. ``zoo rank`` logs a run per backbone with
its scores to the same experiment. MLflow is the optional extra ``zoo[mlflow]``.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from ..core.rows import Status
from .plots import plot_curves

FINAL_METRICS = ("test_accuracy", "test_accuracy_low", "test_accuracy_high", "balanced_accuracy", "majority_accuracy",
                 "test_loss", "best_val_accuracy", "train_step_ms", "infer_images_per_s",
                 "total_params", "trainable_params", "non_trainable_params", "fit_seconds")
RANK_METRICS = ("logme", "knn_accuracy", "linear_probe", "feature_dim", "extract_seconds", "score_seconds")
PARAMS = ("backbone", "dataset", "seed", "input_size", "freeze_layer", "pooling", "unfreeze_from", "train_images",
          "val_images", "test_images", "lr", "dropout", "C")


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri or None)


def _experiment(client, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name)
    except Exception:  # another trial created it meanwhile
        return client.get_experiment_by_name(name).experiment_id


def _tags(row, kind: str) -> dict:
    from importlib.metadata import version

    return {"zoo.kind": kind, "device": row.device or "", "backend": row.backend or "",
            "keras_version": row.keras_version or "", "zoo_version": version("zoo"), "status": row.status,
            **({"error": row.error[:5000]} if row.error else {})}


def log_trial(trial, result) -> None:
    """One MLflow run for a finished (or failed) compare or rank trial."""
    from mlflow.entities import Metric, Param

    row = result.row
    client = _client(trial.mlflow)
    experiment = _experiment(client, trial.experiment or trial.dataset)
    kind = "rank" if trial.task == "rank" else "compare"
    name = f"{trial.backbone} {trial.dataset}" + ("" if kind == "rank" else f" seed {trial.seed}")
    run = client.create_run(experiment, run_name=f"{name} ({kind})", tags=_tags(row, kind))
    values = row.to_dict()
    # The recipe, then the row's values: the lr chosen from a list (the list: lr_candidates).
    params = {**asdict(trial.recipe), **{key: values[key] for key in PARAMS if key in values}}
    params.update({f"{key}_candidates": value for key, value in asdict(trial.recipe).items()
                   if key in ("lr", "dropout") and isinstance(value, tuple)})
    params = {key: value for key, value in params.items() if value is not None}
    now = int(time.time() * 1000)
    metrics = [Metric(key, float(values[key]), now, 0) for key in (RANK_METRICS if kind == "rank" else FINAL_METRICS)
               if values.get(key) is not None]
    for key, series in result.history.items():  # per epoch, the epoch as the step
        if isinstance(series, list):
            metrics += [Metric(f"epoch_{key}", float(v), now, step) for step, v in enumerate(series, 1)]
    try:
        client.log_batch(run.info.run_id, metrics=metrics, params=[Param(k, str(v)[:6000]) for k, v in params.items()])
        with tempfile.TemporaryDirectory() as scratch:
            if result.history:
                plot_curves({name: result.history}, Path(scratch) / "curves.png")
                client.log_artifact(run.info.run_id, str(Path(scratch) / "curves.png"))
            if result.confusion:
                (Path(scratch) / "confusion.json").write_text(json.dumps(result.confusion))
                client.log_artifact(run.info.run_id, str(Path(scratch) / "confusion.json"))
            for stem, found in (("predictions", result.predictions), ("tuning", result.tuning)):
                import pandas as pd

                if found:  # the test predictions; every candidate where a list or --tune gave several
                    pd.DataFrame(found).to_csv(Path(scratch) / f"{stem}.csv", index=False)
                    client.log_artifact(run.info.run_id, str(Path(scratch) / f"{stem}.csv"))
        if kind == "compare" and trial.save_models == "all" and row.model:
            client.log_artifact(run.info.run_id, str(Path(trial.root or ".") / row.model), "model")
    finally:  # a run half logged still ends, as failed
        client.set_terminated(run.info.run_id, "FINISHED" if row.status == Status.OK else "FAILED")
