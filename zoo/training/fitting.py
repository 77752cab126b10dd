"""Training one model the way every trial trains it, with Keras doing the work: compiled for
its data, fitted with the best epoch on validation kept (``EarlyStopping``), evaluated and
asked for its predictions, stage two of a two-stage fine-tune, and saved whole or not at all.

``zoo.training.harness`` decides what to train (candidates, the head, the cache); this module trains it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from ..backbones.layers import apply_freeze
from ..backbones.model import training_graph
from ..core.files import atomic_path
from ..core.recipe import Recipe
from ..data.datasets import Splits
from ..data.sources import FileView
from .features import FileBatches, MappedBatches, frozen_features, kept


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


def make_optimizer(recipe: Recipe, lr: float | None = None):
    lr = recipe.lr if lr is None else lr
    if recipe.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    return keras.optimizers.SGD(learning_rate=lr, momentum=recipe.momentum)


def _data(x, y, batch_size: int, shuffle: bool, size: int | None = None, resize: str = "crop",
          seeded_order: bool = False) -> dict:
    """Keyword arguments that hand ``x, y`` to Keras: as they are, in batches read from a memory
    map (features larger than memory), or files decoded a batch at a time at ``size``. With
    ``seeded_order`` arrays go in zoo's seeded batches too, in the order files would (the
    features of a folder train in the same order as its images would)."""
    if isinstance(x, FileView):
        return {"x": FileBatches(x, y, batch_size, size, resize, shuffle, seed=int(np.random.randint(2**31)))}
    if isinstance(x, np.memmap) or seeded_order:
        return {"x": MappedBatches(x, y, batch_size, shuffle, seed=int(np.random.randint(2**31)))}
    return {"x": x, "y": y, "batch_size": batch_size}


def _image_size(model) -> int | None:
    """The side of the images ``model`` takes (files are decoded at it); None for features."""
    return int(model.input.shape[1]) if len(model.input.shape) == 4 else None


def compile_for(model, recipe: Recipe, lr: float, seeded_order: bool) -> None:
    """Compile ``model`` for training and evaluation: weighted (a folder's files that failed to
    decode weigh 0) with ``seeded_order``, plain otherwise."""
    if seeded_order:
        model.compile(optimizer=make_optimizer(recipe, lr), weighted_metrics=["accuracy"],
                      loss=keras.losses.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight"))
    else:
        model.compile(optimizer=make_optimizer(recipe, lr), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])


def _fit(model, train, val, recipe: Recipe, *, epochs: int, lr: float, label: str, progress,
         best_so_far: float | None = None, log_dir: str | None = None, seeded_order: bool = False) -> dict:
    """Compile and train ``model``, keeping the best epoch on validation accuracy (restored at the end).

    With ``best_so_far`` an epoch must beat it to be kept; when none does, the
    weights the model had before are restored. With ``seeded_order`` (a folder's images or
    features) the loss and the accuracy are weighted: a file that failed to decode has weight
    0 (zoo.training.features.FileBatches) and counts in neither, where Keras's plain ``metrics`` would
    count it.
    """
    compile_for(model, recipe, lr, seeded_order)
    before = model.get_weights() if best_so_far is not None else None
    # Keras keeps the best epoch's weights in memory and restores them at the end (patience
    # longer than the run: it never stops early). No checkpoint file to be cut short on disk.
    best = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=epochs + 1,
                                         restore_best_weights=True)
    callbacks = [best]
    if log_dir is not None:  # --tensorboard: Keras's own writer, one run per trial (and stage)
        callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir))
    if progress is not None:
        steps = math.ceil(len(train[0]) / recipe.batch_size)
        callbacks.append(_ProgressCallback(progress, label, steps * epochs, epochs))
    size = _image_size(model)
    val_data = _data(*val, recipe.batch_size, shuffle=False, size=size, resize=recipe.resize,
                     seeded_order=seeded_order)
    history = model.fit(**_data(*train, recipe.batch_size, shuffle=True, size=size, resize=recipe.resize,
                                seeded_order=seeded_order),
                        epochs=epochs, callbacks=callbacks,
                        validation_data=val_data["x"] if "y" not in val_data else (val_data["x"], val_data["y"]),
                        verbose=0, shuffle=True)
    if before is not None and not best.best > best_so_far:
        model.set_weights(before)
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}


@dataclass
class Trained:
    """A model after training: the part that trained (the head, on cached features, or the full
    model), the test split as that part takes it, the per-epoch history and the seconds it took."""

    model: object
    test: tuple
    history: dict
    fit_seconds: float
    val_accuracy: float  # the best epoch's, which the model keeps


def train(assembled, splits: Splits, recipe: Recipe, use_cache: bool, progress=None, features=None,
          log_dir: str | None = None, label: str | None = None) -> Trained:
    """Train with the best epoch (on validation accuracy) kept; the test split is not touched.

    With ``use_cache`` the frozen part runs once per image (``features(part, x, y)`` gives its
    output, from the feature store or computed; by default computed in memory) and only the
    part after the cut trains; its layers are the full model's, so the full model ends up
    trained too. ``fit_seconds`` counts getting the features too, so it compares with and
    without the cache.
    """
    name = assembled.card.name
    start = time.perf_counter()  # fit time includes computing the cached features
    sets = [(splits.x_train, splits.y_train), (splits.x_val, splits.y_val), (splits.x_test, splits.y_test)]
    trained = assembled.trainer  # its frozen layers in inference mode, as when their features are cached
    if use_cache:
        trained = assembled.trainable
        if features is None:
            def features(part, x, y):
                return kept(frozen_features(assembled.frozen, x, y, {}, None, batch_size=recipe.batch_size,
                                            in_memory=True, progress=progress, label=f"{name} features ({part})",
                                            resize=recipe.resize)[0], x, y)
        sets = [features(part, x, y) for (x, y), part in zip(sets, ("train", "val", "test"))]
    train_set, val, test = sets
    history = _fit(trained, train_set, val, recipe, epochs=recipe.epochs, lr=recipe.lr, label=label or name,
                   progress=progress, log_dir=log_dir, seeded_order=splits.streamed)
    return Trained(trained, test, history, time.perf_counter() - start, float(max(history["val_accuracy"])))


def train_and_evaluate(assembled, splits: Splits, recipe: Recipe, use_cache: bool, progress=None,
                       features=None, log_dir: str | None = None):
    """``train``, then evaluate the kept epoch on the test split. Returns ``(history, test_loss,
    test_accuracy, fit_seconds, labels, probabilities)``: the test labels and the predicted
    class probabilities (n, classes), without files that failed to decode."""
    done = train(assembled, splits, recipe, use_cache, progress, features, log_dir)
    return (done.history, *evaluate(done.model, *done.test, recipe), done.fit_seconds,
            *predicted(done.model, *done.test, recipe))


def evaluate(model, x, y, recipe: Recipe) -> tuple[float, float]:
    """Test loss and accuracy of ``model`` on ``x`` (images, files or features) and labels ``y``."""
    size = _image_size(model)
    loss, accuracy = model.evaluate(**_data(x, y, recipe.batch_size, shuffle=False, size=size,
                                            resize=recipe.resize), verbose=0)
    return float(loss), float(accuracy)


def predicted(model, x, y, recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """The labels ``y`` of ``x`` (images, files or features) and ``model``'s class probabilities
    for each (n, classes), without the files that failed to decode."""
    size = _image_size(model)
    data = _data(x, np.asarray(y), recipe.batch_size, shuffle=False, size=size, resize=recipe.resize)
    data.pop("y", None)
    probabilities = np.asarray(model.predict(**data, verbose=0), dtype=np.float32)
    if isinstance(x, FileView) and x.failed:
        keep = x.kept()
        return np.asarray(y)[keep], probabilities[keep]
    return np.asarray(y), probabilities


def fine_tune(assembled, splits: Splits, recipe: Recipe, unfreeze: int, best_val: float, progress=None,
              log_dir: str | None = None):
    """Stage two: unfreeze the backbone from layer ``unfreeze`` and train end to end at ``finetune_lr``.
    Returns the model that trained (``training_graph`` at ``unfreeze``), its history, test loss
    and accuracy, seconds, and the test labels and probabilities.

    BatchNormalization layers stay frozen, so they run in inference mode with their
    moving statistics (Keras's advice for fine-tuning): small batches at a low rate
    would otherwise wreck the statistics the backbone learned. An epoch is kept only
    if it beats stage one's best validation accuracy.
    """
    apply_freeze(assembled.backbone, unfreeze)
    for layer in assembled.backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    trained = training_graph(assembled, unfreeze)  # what stays frozen runs in inference mode
    start = time.perf_counter()
    history = _fit(trained, (splits.x_train, splits.y_train), (splits.x_val, splits.y_val), recipe,
                   epochs=recipe.finetune_epochs, lr=recipe.finetune_lr,
                   label=f"{assembled.card.name} fine-tune", progress=progress, best_so_far=best_val,
                   log_dir=log_dir, seeded_order=splits.streamed)
    fit_seconds = time.perf_counter() - start
    return (trained, history, *evaluate(trained, splits.x_test, splits.y_test, recipe), fit_seconds,
            *predicted(trained, splits.x_test, splits.y_test, recipe))


def weights_state(model) -> list:
    """Every variable of ``model`` (weights, BatchNorm statistics, dropout seeds) as arrays."""
    return [keras.ops.convert_to_numpy(v) for v in model.variables]


def restore_state(model, state: list) -> None:
    """Put back every variable ``weights_state`` took."""
    for variable, value in zip(model.variables, state):
        variable.assign(value)


def keep_model(model, path: Path, optimizer_state: bool = False) -> None:
    """Save ``model`` as ``path`` (.keras): compiled with its optimizer's state when asked,
    otherwise its layers alone, uncompiled.

    Keras's .keras format saves the optimizer's variables whenever the model is compiled
    (``include_optimizer`` is for legacy .h5 only), and a model saved compiled with a fresh
    optimizer warns on every load that its slots do not match: so the layers go alone, in a
    model that shares them. It predicts as it is; compile it to evaluate or train on.
    """
    if not optimizer_state:
        model = keras.Model(model.inputs, model.outputs, name=model.name)
    with atomic_path(path) as partial:  # a kill mid-save leaves no truncated model
        model.save(partial)
