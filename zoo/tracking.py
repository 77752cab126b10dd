"""Where results also go: models kept on purpose (``--save-models``), TensorBoard logs
(``--tensorboard``) and an MLflow run per trial (``--mlflow``), all checked before any work.

Each trial logs its own run from wherever it runs (this process, a trial subprocess, a
Ray worker), through MLflow's client: the resolved recipe as params, the per-epoch metrics
with their step, the final metrics, tags saying where it ran, the curves, the confusion
matrix and, with ``--save-models all``, the model. ``zoo rank`` logs a run per backbone with
its scores to the same experiment. MLflow is the optional extra ``zoo[mlflow]``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

from .errors import BadInput
from .plots import plot_curves
from .rows import Status

FINAL_METRICS = ("test_accuracy", "test_loss", "best_val_accuracy", "train_step_ms", "infer_images_per_s",
                 "total_params", "trainable_params", "non_trainable_params", "fit_seconds")
RANK_METRICS = ("logme", "knn_accuracy", "feature_dim", "extract_seconds", "score_seconds")
PARAMS = ("backbone", "dataset", "seed", "input_size", "freeze_layer", "pooling", "unfreeze_from", "train_images",
          "val_images", "test_images")


SAVE_MODELS = ("best", "all", "none")


def where_results_go(trials, output, save_models, save_optimizer, mlflow, experiment, tensorboard):
    """The trials with --save-models, --mlflow/--experiment and --tensorboard applied, each checked."""
    if save_models not in SAVE_MODELS:
        raise BadInput(f"--save-models {save_models!r}: choose one of {', '.join(SAVE_MODELS)}.")
    uri = mlflow_uri(mlflow)
    if experiment is not None and uri is None:
        raise BadInput("--experiment names an MLflow experiment: add --mlflow [URI].")
    if tensorboard:
        import importlib.util

        if output is None:
            raise BadInput("--tensorboard writes its logs under the output folder: give output=FOLDER.")
        # Keras's TensorBoard callback writes through TensorFlow's summaries, which need tensorboard.
        if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("tensorboard") is None:
            raise BadInput('--tensorboard needs TensorFlow and TensorBoard: pip install tensorflow "zoo[tensorboard]".')
    return [replace(trial, folder=None if save_models == "none" else trial.folder, save_models=save_models,
                    save_optimizer=save_optimizer, mlflow=uri, experiment=experiment,
                    tensorboard=str(Path(output) / "tensorboard" / trial.slug) if tensorboard else None)
            for trial in trials]


def mlflow_uri(given: str | None) -> str | None:
    """``--mlflow [URI]``: the URI given, else ``MLFLOW_TRACKING_URI``; None when neither turns
    MLflow on (``""``: ``--mlflow`` alone with no variable set, MLflow's own default)."""
    if given is None and not os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    if given and ":" not in given and "/" not in given:  # click took the next word: a backbone?
        raise BadInput(f"--mlflow {given}: give a tracking URI (sqlite:///mlflow.db, http://host:5000) as "
                       "--mlflow=URI, or put --mlflow after the backbone names.")
    try:
        import mlflow  # noqa: F401
    except ImportError:
        if given is None:  # the variable alone, set for other tools: say so and go on
            import warnings

            warnings.warn('MLFLOW_TRACKING_URI is set but MLflow is not installed: not logging to it '
                          '(pip install "zoo[mlflow]").', stacklevel=2)
            return None
        raise BadInput('--mlflow needs MLflow: pip install "zoo[mlflow]".') from None
    return given or os.environ.get("MLFLOW_TRACKING_URI", "")


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
    params = {**asdict(trial.recipe), **{key: values[key] for key in PARAMS if key in values}}
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
        if kind == "compare" and trial.save_models == "all" and row.model:
            client.log_artifact(run.info.run_id, str(Path(trial.root or ".") / row.model), "model")
    finally:  # a run half logged still ends, as failed
        client.set_terminated(run.info.run_id, "FINISHED" if row.status == Status.OK else "FAILED")
