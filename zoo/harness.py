"""The comparison protocol: fine-tune one backbone on a dataset and measure it.

Every backbone goes through the same steps: assemble (zoo.model), optionally cache
the frozen features, train with the best epoch kept, optionally fine-tune end to
end from a deeper layer (two-stage), evaluate on the test split, save the model,
and time the full model's training and inference steps.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np
import psutil

from . import backend, timing
from .checks import trial_input_size
from .datasets import Splits
from .evaluation import Outcome, confusion, decoded, predictions, test_figures
from .features import FileBatches, MappedBatches, feature_key, frozen_features, kept
from .layers import apply_freeze, count_params, resolve_unfreeze
from .model import assemble
from .output import WriteError, atomic_path
from .recipe import Recipe
from .rows import Status
from .sources import FileView
from .store import FeatureStore
from .trials import trial_row
from .tuning import candidates, is_tuned

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


def cache_plan(assembled, n_images: int, cache: bool, budget_mb: float | None) -> tuple[bool, bool, str]:
    """Whether to cache the frozen features, whether they fit in memory (if not, training reads
    them memory-mapped), and how the results should describe it."""
    if not cache:
        return False, False, "off (--no-cache)"
    if assembled.frozen is None:
        return False, False, f"off ({assembled.cut})"
    need_mb = n_images * math.prod(assembled.frozen.output.shape[1:]) * 4 / 2**20
    if budget_mb is None:
        budget_mb = psutil.virtual_memory().available / 2**20 / 2
    if need_mb > budget_mb:
        return True, False, f"memory-mapped at {assembled.cut} (features need {need_mb:,.0f} MB, budget {budget_mb:,.0f} MB)"
    return True, True, f"cached at {assembled.cut} ({need_mb:,.1f} MB)"


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


def _compile(model, recipe: Recipe, lr: float, seeded_order: bool) -> None:
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
    0 (zoo.features.FileBatches) and counts in neither, where Keras's plain ``metrics`` would
    count it.
    """
    _compile(model, recipe, lr, seeded_order)
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
    trained = assembled.model
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
    return (done.history, *_evaluate(done.model, *done.test, recipe), done.fit_seconds,
            *_predicted(done.model, *done.test, recipe))


def _evaluate(model, x, y, recipe: Recipe) -> tuple[float, float]:
    """Test loss and accuracy of ``model`` on ``x`` (images, files or features) and labels ``y``."""
    size = _image_size(model)
    loss, accuracy = model.evaluate(**_data(x, y, recipe.batch_size, shuffle=False, size=size,
                                            resize=recipe.resize), verbose=0)
    return float(loss), float(accuracy)


def _predicted(model, x, y, recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
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
    history = _fit(assembled.model, (splits.x_train, splits.y_train), (splits.x_val, splits.y_val), recipe,
                   epochs=recipe.finetune_epochs, lr=recipe.finetune_lr,
                   label=f"{assembled.card.name} fine-tune", progress=progress, best_so_far=best_val,
                   log_dir=log_dir, seeded_order=splits.streamed)
    fit_seconds = time.perf_counter() - start
    return (history, *_evaluate(assembled.model, splits.x_test, splits.y_test, recipe), fit_seconds,
            *_predicted(assembled.model, splits.x_test, splits.y_test, recipe))


def run_backbone(card, splits: Splits, trial, progress=None, say=print) -> Outcome:
    """Fine-tune ``card`` under ``trial.recipe``; returns its row (``status`` ok) and history.

    ``trial`` (zoo.trials.Trial) also says the seed, the dataset, the folder for the model
    (None: keep no model) and how to cache features. With ``devices`` in the recipe the model
    is built and trained data-parallel; the batch size given is per device, so the global
    batch is ``batch_size x devices`` (learning rate as given).
    """
    keras.utils.clear_session()
    with backend.data_parallel(trial.recipe.devices) as devices:
        global_batch = replace(trial.recipe, batch_size=trial.recipe.batch_size * devices)
        outcome = _run_backbone(card, splits, trial, global_batch, progress, say)
    outcome.row.devices = devices
    return outcome


def _run_backbone(card, splits: Splits, trial, recipe: Recipe, progress, say) -> Outcome:
    keras.utils.set_random_seed(trial.seed)
    size = trial_input_size(card, recipe.input_size, splits.image_shape, recipe.weights)
    data_shape = splits.data_shape(size)
    two_stage = recipe.finetune_epochs > 0
    # Two-stage fine-tuning trains the head alone first (unless --freeze says otherwise),
    # then unfreezes from the recommended layer.
    freeze = "all" if two_stage and recipe.freeze == "recommended" else recipe.freeze
    if trial.tensorboard is not None:  # a trial run again writes its logs afresh, not among the old ones
        shutil.rmtree(trial.tensorboard, ignore_errors=True)
    n_images = len(splits.x_train) + len(splits.x_val) + len(splits.x_test)
    store = FeatureStore() if trial.store else None
    sources, got = [], {}

    def build(dropout):
        built = assemble(card, data_shape, splits.num_classes, input_size=size, weights=recipe.weights,
                         freeze=freeze, pooling=recipe.pooling, preprocess=recipe.preprocess, head=recipe.head,
                         dropout=dropout, seed=trial.seed, resize=recipe.resize)
        return built, *cache_plan(built, n_images, trial.cache, trial.cache_budget_mb)

    def features(part, x, y):  # once per split: every candidate trains on the same features
        if part not in got:
            key = feature_key(assembled, weights=recipe.weights, preprocess=recipe.preprocess, pooling="none",
                              dataset=trial.spec.store_name, split=part, limit=recipe.limit,
                              val_split=recipe.val_split, x=x, y=y, resize=recipe.resize) if store else {}
            array, source = frozen_features(assembled.frozen, x, y, key, store, batch_size=recipe.batch_size,
                                            in_memory=in_memory, progress=progress,
                                            label=f"{card.name} features ({part})", say=say, resize=recipe.resize)
            sources.append(source)
            got[part] = kept(array, x, y)
        return got[part]

    tuned = is_tuned(recipe)
    assembled, assembled_dropout, best, tuning, fit_seconds = None, None, None, [], 0.0
    for candidate, tell in candidates(recipe, trial.seed):
        if assembled is None or candidate.dropout != assembled_dropout:  # a head with another dropout
            (assembled, use_cache, in_memory, cache_note), assembled_dropout = build(candidate.dropout), candidate.dropout
            part = assembled.trainable if use_cache else assembled.model
            start = _state(part) if tuned else None
        elif start is not None:  # the same head again: from the same initial weights
            _restore(part, start)
        keras.utils.set_random_seed(trial.seed)  # each candidate draws what it would draw alone
        label = f"{card.name} lr {candidate.lr:g} dropout {candidate.dropout:g}" if tuned else card.name
        log_dir = trial.tensorboard if trial.tensorboard is None or not tuned else \
            str(Path(trial.tensorboard) / f"lr{candidate.lr:g}-dropout{candidate.dropout:g}")
        done = train(assembled, splits, candidate, use_cache, progress, features, log_dir, label)
        tell(done.val_accuracy)
        fit_seconds += done.fit_seconds
        tuning.append({"backbone": card.name, "dataset": trial.dataset, "seed": trial.seed, "lr": candidate.lr,
                       "dropout": candidate.dropout, "val_accuracy": done.val_accuracy, "chosen": False})
        if best is None or done.val_accuracy > best[1].val_accuracy:  # a tie keeps the earlier candidate
            best = (candidate, done, _state(done.model) if tuned else None, len(tuning) - 1)
    recipe, done, state, index = best  # the candidate chosen on validation: the test split chooses nothing
    tuning[index]["chosen"] = True
    if tuned:
        if recipe.dropout != assembled_dropout:  # built again, as it was when it trained: compiled
            assembled, use_cache, in_memory, cache_note = build(recipe.dropout)
            _compile(assembled.trainable if use_cache else assembled.model, recipe, recipe.lr, splits.streamed)
        part = assembled.trainable if use_cache else assembled.model
        _restore(part, state)
        done.model = part
    model = assembled.model
    unfreeze = resolve_unfreeze(recipe.unfreeze_from, card, assembled.backbone, assembled.freeze_index) \
        if two_stage else None
    history = done.history
    trainable = count_params(model.trainable_weights)  # stage one's, before any unfreezing
    finetune_trainable = None
    if not two_stage:
        test_loss, test_accuracy = _evaluate(done.model, *done.test, recipe)
        labels, probabilities = _predicted(done.model, *done.test, recipe)
    else:
        best_val = max(history["val_accuracy"])
        stage_two, test_loss, test_accuracy, seconds, labels, probabilities = fine_tune(
            assembled, splits, recipe, unfreeze, best_val, progress,
            None if trial.tensorboard is None else str(Path(trial.tensorboard) / "finetune"))
        finetune_trainable = count_params(model.trainable_weights)
        fit_seconds += seconds
        history = {k: v + stage_two.get(k, []) for k, v in history.items()}
        history["finetune_start"] = recipe.epochs  # epochs before stage two, for the curves
    if not two_stage:
        if use_cache:  # the full model was not trained directly: compile it, so that the saved
            # .keras model can be evaluated or trained on as it is
            model.compile(optimizer=make_optimizer(recipe), loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"])
            model.optimizer.build(model.trainable_variables)
    saved, unsaved = None, None
    if trial.folder is not None:
        saved = Path(trial.folder) / f"{card.name}.keras"
        saved.parent.mkdir(parents=True, exist_ok=True)
        try:
            keep_model(model, saved, trial.save_optimizer)
        except WriteError as exc:  # the training stands: only the model file is lost
            saved, unsaved = None, f"its model was not kept: {exc}"
            say(f"{card.name}: {unsaved}")

    # Timed on the full model (frozen part included), after the checkpoint is saved:
    # timing steps change the weights.
    steps = timing.step_timing(model, recipe.batch_size, splits.num_classes, store, {
        "backbone": card.name, "params": int(model.count_params()), "trainable": count_params(model.trainable_weights),
        "layers": len(model.layers), "data_shape": list(data_shape), "input_size": size,
        "batch_size": recipe.batch_size, "devices": str(trial.recipe.devices), "preprocess": recipe.preprocess,
        "optimizer": recipe.optimizer, "momentum": recipe.momentum,
        "backend": backend.backend_name(), "device": backend.device_name(), "keras": keras.__version__},
        retime=trial.retime, shared_load=trial.shared_load)

    if splits.failures_note():
        say(f"{card.name}: {splits.failures_note()}")
    layers = assembled.backbone.layers
    first_trainable = layers[assembled.freeze_index].name if assembled.freeze_index < len(layers) else None
    total = int(model.count_params())
    row = replace(trial_row(trial, Status.OK), lr=recipe.lr, dropout=recipe.dropout,
        data_shape="x".join(map(str, data_shape)), data_source=splits.source, data_note=splits.note,
        skipped_images=splits.skipped_images(),
        train_images=decoded(splits.x_train), val_images=decoded(splits.x_val), test_images=decoded(splits.x_test),
        error=unsaved, input_size=size, freeze_layer=first_trainable, freeze_index=assembled.freeze_index,
        pooling=recipe.pooling if recipe.pooling != "recommended" else card.pooling,
        unfreeze_from=layers[unfreeze].name if two_stage else None, finetune_trainable_params=finetune_trainable,
        test_loss=test_loss, best_val_accuracy=float(max(history["val_accuracy"])),
        total_params=total, trainable_params=trainable, non_trainable_params=total - trainable,
        train_step_ms=steps["train_step_ms"], infer_images_per_s=steps["infer_images_per_s"],
        step_timing=steps["step_timing"], timed_at=steps.get("timed_at"),
        fit_seconds=fit_seconds, feature_cache=cache_note,
        feature_store=("miss" if "miss" in sources else "hit") if any(sources) else None, model=trial.model_path(card.name) if saved else None,
        **test_figures(splits, labels, probabilities))
    return Outcome(row, history, confusion(splits, labels, probabilities), predictions(splits, labels, probabilities),
                   tuning if tuned else [])


def _state(model) -> list:
    """Every variable of ``model`` (weights, BatchNorm statistics, dropout seeds) as arrays."""
    return [keras.ops.convert_to_numpy(v) for v in model.variables]


def _restore(model, state: list) -> None:
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
