"""The comparison protocol: fine-tune one backbone on a dataset and measure it.

Every backbone goes through the same steps: assemble (zoo.model), optionally cache
the frozen features, train with the best epoch kept, optionally fine-tune end to
end from a deeper layer (two-stage), evaluate on the test split, save the model,
and time the full model's training and inference steps.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import keras
import numpy as np
import psutil

from . import backend, timing
from .datasets import ImageData
from .layers import apply_freeze, count_params, resolve_unfreeze
from .model import assemble

RESULT_KEYS = [
    "backbone", "dataset", "seed", "data_shape", "data_source", "data_note", "weights", "input_size", "freeze_layer",
    "pooling", "head", "optimizer", "lr", "epochs", "batch_size", "devices", "finetune_epochs", "finetune_lr",
    "unfreeze_from", "finetune_trainable_params",
    "train_images", "val_images", "test_images", "test_accuracy", "test_loss", "best_val_accuracy",
    "total_params", "trainable_params", "non_trainable_params", "train_step_ms", "infer_images_per_s",
    "fit_seconds", "feature_cache", "device", "backend", "keras_version", "status", "error", "trial", "recipe",
]


@dataclass
class CompareOptions:
    """One protocol for every backbone; the defaults are the classic VGG16-on-CIFAR-10 recipe."""

    output: Path
    dataset: str = "cifar10"
    weights: str | None = "imagenet"
    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "sgd"
    lr: float = 1e-4
    momentum: float = 0.9
    val_split: float = 0.2
    input_size: int | None = None
    freeze: str = "recommended"
    pooling: str = "recommended"
    preprocess: bool = True
    head: str = "dense"
    dropout: float = 0.5
    finetune_epochs: int = 0  # > 0: a second stage trains end to end from unfreeze_from
    finetune_lr: float = 1e-5
    unfreeze_from: str | None = None  # default: the card's freeze layer, or its last block
    cache: bool = True
    cache_budget_mb: float | None = None  # default: half the memory available now
    devices: int | str | None = None  # data parallel over N devices (or "all"); None: one
    seed: int = 0


@dataclass
class Splits:
    """Train, validation and test arrays; validation is the first part of the training set."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple
    num_classes: int
    source: str = ""
    note: str = ""

    @classmethod
    def from_data(cls, data: ImageData, val_split: float, limit: int | None = None) -> "Splits":
        x, y = data.x_train[:limit], data.y_train[:limit]
        x_test, y_test = data.x_test[:limit], data.y_test[:limit]
        n_val = int(round(len(x) * val_split))
        return cls(x[n_val:], y[n_val:], x[:n_val], y[:n_val], x_test, y_test, data.image_shape,
                   max(len(data.class_names), int(data.y_train.max()) + 1), data.source, data.note)


@dataclass
class Outcome:
    """A backbone's result row and its per-epoch history (for the curves)."""

    row: dict
    history: dict = field(default_factory=dict)


class _ProgressCallback(keras.callbacks.Callback):
    """Advances a rich progress task per batch; names the epoch and validation accuracy."""

    def __init__(self, progress, label: str, total: int, epochs: int | None = None):
        super().__init__()
        self.progress, self.label, self.epochs = progress, label, epochs
        self.task = progress.add_task(label if epochs is None else f"{label} epoch 1/{epochs}", total=total)

    def on_train_batch_end(self, batch, logs=None):
        self.progress.advance(self.task)

    on_predict_batch_end = on_train_batch_end

    def on_epoch_end(self, epoch, logs=None):
        val = (logs or {}).get("val_accuracy")
        shown = min(epoch + 2, self.epochs)
        self.progress.update(self.task, description=f"{self.label} epoch {shown}/{self.epochs}"
                             + (f" (val acc {val:.3f})" if val is not None else ""))


def make_optimizer(options: CompareOptions, lr: float | None = None):
    lr = options.lr if lr is None else lr
    if options.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    return keras.optimizers.SGD(learning_rate=lr, momentum=options.momentum)


def cache_plan(assembled, n_images: int, options: CompareOptions) -> tuple[bool, str]:
    """Whether to cache the frozen features, and how the results should describe it."""
    if not options.cache:
        return False, "off (--no-cache)"
    if assembled.frozen is None:
        return False, f"off ({assembled.cut})"
    need_mb = n_images * math.prod(assembled.frozen.output.shape[1:]) * 4 / 2**20
    budget_mb = options.cache_budget_mb
    if budget_mb is None:
        budget_mb = psutil.virtual_memory().available / 2**20 / 2
    if need_mb > budget_mb:
        return False, f"streamed (features need {need_mb:,.0f} MB, budget {budget_mb:,.0f} MB)"
    return True, f"cached at {assembled.cut} ({need_mb:,.1f} MB)"


def _fit(model, train, val, options: CompareOptions, *, epochs: int, lr: float, label: str, progress,
         best_so_far: float | None = None) -> dict:
    """Compile and train ``model``, keeping the best epoch on validation accuracy (restored at the end).

    With ``best_so_far`` an epoch must beat it to be kept; when none does, the
    weights the model had before are restored.
    """
    model.compile(optimizer=make_optimizer(options, lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    options.output.mkdir(parents=True, exist_ok=True)
    best = options.output / f"{label.replace(' ', '-')}.best.weights.h5"
    if best_so_far is not None:  # the weights to return to if no epoch beats best_so_far
        model.optimizer.build(model.trainable_variables)  # saved with them, so build it first
        model.save_weights(best)
    callbacks = [keras.callbacks.ModelCheckpoint(best, monitor="val_accuracy", mode="max",
                                                 save_best_only=True, save_weights_only=True,
                                                 initial_value_threshold=best_so_far)]
    if progress is not None:
        steps = math.ceil(len(train[0]) / options.batch_size)
        callbacks.append(_ProgressCallback(progress, label, steps * epochs, epochs))
    history = model.fit(*train, validation_data=val, epochs=epochs, batch_size=options.batch_size,
                        callbacks=callbacks, verbose=0, shuffle=True)
    model.load_weights(best)
    best.unlink()
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}


def train_and_evaluate(assembled, splits: Splits, options: CompareOptions, use_cache: bool, progress=None):
    """Train with the best epoch (on validation accuracy) kept, then evaluate it on the test split.

    With ``use_cache`` the frozen part runs once per image and only the part after the
    cut trains; its layers are the full model's, so the full model ends up trained too.
    Returns ``(history, test_loss, test_accuracy, fit_seconds)``; ``fit_seconds`` counts the
    feature extraction too, so it compares with and without the cache.
    """
    name = assembled.card.name
    start = time.perf_counter()  # fit time includes computing the cached features
    sets = [(splits.x_train, splits.y_train), (splits.x_val, splits.y_val), (splits.x_test, splits.y_test)]
    trained = assembled.model
    if use_cache:
        trained = assembled.trainable
        sets = [(_features(assembled.frozen, x, options.batch_size, progress, f"{name} features ({part})"), y)
                for (x, y), part in zip(sets, ("train", "val", "test"))]
    train, val, test = sets
    history = _fit(trained, train, val, options, epochs=options.epochs, lr=options.lr, label=name,
                   progress=progress)
    fit_seconds = time.perf_counter() - start
    test_loss, test_accuracy = trained.evaluate(*test, batch_size=options.batch_size, verbose=0)
    return history, float(test_loss), float(test_accuracy), fit_seconds


def fine_tune(assembled, splits: Splits, options: CompareOptions, unfreeze: int, best_val: float,
              progress=None):
    """Stage two: unfreeze the backbone from layer ``unfreeze`` and train end to end at ``finetune_lr``.

    BatchNormalization layers stay frozen, so they run in inference mode with their
    moving statistics (Keras's advice for fine-tuning): small batches at a low rate
    would otherwise wreck the statistics the backbone learned. An epoch is kept only
    if it beats stage one's best validation accuracy.
    """
    apply_freeze(assembled.backbone, unfreeze)
    for layer in assembled.backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    start = time.perf_counter()
    history = _fit(assembled.model, (splits.x_train, splits.y_train), (splits.x_val, splits.y_val), options,
                   epochs=options.finetune_epochs, lr=options.finetune_lr,
                   label=f"{assembled.card.name} fine-tune", progress=progress, best_so_far=best_val)
    fit_seconds = time.perf_counter() - start
    test_loss, test_accuracy = assembled.model.evaluate(splits.x_test, splits.y_test,
                                                        batch_size=options.batch_size, verbose=0)
    return history, float(test_loss), float(test_accuracy), fit_seconds


def run_backbone(card, splits: Splits, options: CompareOptions, progress=None, say=print) -> Outcome:
    """Fine-tune ``card`` under the protocol; returns its row (``status`` ok) and history.

    With ``options.devices`` the model is built and trained data-parallel; the batch size
    given is per device, so the global batch is ``batch_size x devices`` (learning rate as given).
    """
    keras.utils.clear_session()
    with backend.data_parallel(options.devices) as devices:
        outcome = _run_backbone(card, splits, replace(options, batch_size=options.batch_size * devices),
                                progress, say)
    outcome.row["devices"] = devices
    return outcome


def _run_backbone(card, splits: Splits, options: CompareOptions, progress, say) -> Outcome:
    keras.utils.set_random_seed(options.seed)
    size = options.input_size or max(max(splits.image_shape[:2]), card.min_input_size)
    two_stage = options.finetune_epochs > 0
    # Two-stage fine-tuning trains the head alone first (unless --freeze says otherwise),
    # then unfreezes from the recommended layer.
    freeze = "all" if two_stage and options.freeze == "recommended" else options.freeze
    assembled = assemble(card, splits.image_shape, splits.num_classes, input_size=size,
                         weights=options.weights, freeze=freeze, pooling=options.pooling,
                         preprocess=options.preprocess, head=options.head, dropout=options.dropout)
    model = assembled.model
    unfreeze = resolve_unfreeze(options.unfreeze_from, card, assembled.backbone, assembled.freeze_index) \
        if two_stage else None
    n_images = len(splits.x_train) + len(splits.x_val) + len(splits.x_test)
    use_cache, cache_note = cache_plan(assembled, n_images, options)
    if cache_note.startswith("streamed"):
        say(f"{card.name}: feature cache {cache_note}; streaming images instead.")

    history, test_loss, test_accuracy, fit_seconds = train_and_evaluate(assembled, splits, options,
                                                                       use_cache, progress)
    trainable = count_params(model.trainable_weights)  # stage one's, before any unfreezing
    finetune_trainable = None
    if two_stage:
        best_val = max(history["val_accuracy"])
        stage_two, test_loss, test_accuracy, seconds = fine_tune(assembled, splits, options, unfreeze,
                                                                 best_val, progress)
        finetune_trainable = count_params(model.trainable_weights)
        fit_seconds += seconds
        history = {k: v + stage_two.get(k, []) for k, v in history.items()}
        history["finetune_start"] = options.epochs  # epochs before stage two, for the curves
    else:
        if use_cache:  # the full model was not trained directly: compile it, so that the saved
            # .keras model can be evaluated or trained on as it is
            model.compile(optimizer=make_optimizer(options), loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"])
            model.optimizer.build(model.trainable_variables)
    model.save(options.output / f"{card.name}.keras")

    # Timed on the full model (frozen part included), after the checkpoint is saved:
    # timing steps change the weights.
    train_timing = timing.time_train_step(model, options.batch_size, splits.num_classes)
    infer_timing = timing.time_infer_step(model, options.batch_size)

    layers = assembled.backbone.layers
    first_trainable = layers[assembled.freeze_index].name if assembled.freeze_index < len(layers) else None
    total = model.count_params()
    row = {
        "backbone": card.name, "dataset": options.dataset, "seed": options.seed,
        "data_shape": "x".join(map(str, splits.image_shape)), "data_source": splits.source,
        "data_note": splits.note, "weights": options.weights or "none",
        "input_size": size, "freeze_layer": first_trainable, "freeze_index": assembled.freeze_index,
        "pooling": options.pooling if options.pooling != "recommended" else card.pooling,
        "head": options.head, "optimizer": options.optimizer, "lr": options.lr, "epochs": options.epochs, "batch_size": options.batch_size,
        "finetune_epochs": options.finetune_epochs, "finetune_lr": options.finetune_lr if two_stage else None,
        "unfreeze_from": layers[unfreeze].name if two_stage else None,
        "finetune_trainable_params": finetune_trainable,
        "train_images": len(splits.x_train), "val_images": len(splits.x_val),
        "test_images": len(splits.x_test), "test_accuracy": test_accuracy,
        "test_loss": test_loss, "best_val_accuracy": float(max(history["val_accuracy"])),
        "total_params": int(total), "trainable_params": trainable, "non_trainable_params": int(total - trainable),
        "train_step_ms": train_timing.median_ms, "infer_images_per_s": infer_timing.images_per_s,
        "fit_seconds": fit_seconds, "feature_cache": cache_note,
        **environment(), "status": "ok", "error": None,
    }
    return Outcome(row, history)


def _features(frozen, x, batch_size, progress, label):
    callbacks = []
    if progress is not None:
        callbacks.append(_ProgressCallback(progress, label, math.ceil(len(x) / batch_size)))
    return frozen.predict(x, batch_size=batch_size, verbose=0, callbacks=callbacks)


def environment() -> dict:
    return {"device": backend.device_name(), "backend": backend.backend_name(),
            "keras_version": keras.__version__}


def failed_row(name: str, options: CompareOptions, error: str) -> dict:
    row = dict.fromkeys(RESULT_KEYS)
    row.update(backbone=name, dataset=options.dataset, seed=options.seed, weights=options.weights or "none", head=options.head,
               optimizer=options.optimizer, lr=options.lr,
               epochs=options.epochs, batch_size=options.batch_size, finetune_epochs=options.finetune_epochs,
               **environment(),
               status="failed", error=error)
    return row
