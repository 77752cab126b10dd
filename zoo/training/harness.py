"""The comparison protocol: fine-tune one backbone on a dataset and measure it.

Every backbone goes through the same steps: assemble (zoo.backbones.model), optionally cache
the frozen features, train each candidate (zoo.training.tuning) and keep the best on validation,
optionally fine-tune end to end from a deeper layer (two-stage), evaluate on the test
split, save the model, and time the full model's training and inference steps. The
training itself, with Keras, is zoo.training.fitting's.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from pathlib import Path

import keras
import psutil

from .. import backend
from ..backbones.checks import trial_input_size
from ..backbones.layers import count_params, resolve_unfreeze
from ..backbones.model import assemble
from ..core.files import WriteError
from ..core.recipe import Recipe
from ..core.rows import Status
from ..data.datasets import Splits
from . import timing
from .evaluation import Outcome, confusion, decoded, predictions, test_figures
from .features import feature_key, frozen_features, kept
from .fitting import (compile_for, evaluate, fine_tune, keep_model, make_optimizer, predicted, restore_state, train,
                      weights_state)
from .store import FeatureStore
from .trials import trial_row
from .tuning import candidates, is_tuned


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


def run_backbone(card, splits: Splits, trial, progress=None, say=print) -> Outcome:
    """Fine-tune ``card`` under ``trial.recipe``; returns its row (``status`` ok) and history.

    ``trial`` (zoo.training.trials.Trial) also says the seed, the dataset, the folder for the model
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
            part = assembled.trainable if use_cache else assembled.trainer
            start = weights_state(part) if tuned else None
        elif start is not None:  # the same head again: from the same initial weights
            restore_state(part, start)
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
            best = (candidate, done, weights_state(done.model) if tuned else None, len(tuning) - 1)
    recipe, done, state, index = best  # the candidate chosen on validation: the test split chooses nothing
    tuning[index]["chosen"] = True
    if tuned:
        if recipe.dropout != assembled_dropout:  # built again, as it was when it trained: compiled
            assembled, use_cache, in_memory, cache_note = build(recipe.dropout)
            compile_for(assembled.trainable if use_cache else assembled.trainer, recipe, recipe.lr, splits.streamed)
        part = assembled.trainable if use_cache else assembled.trainer
        restore_state(part, state)
        done.model = part
    model = assembled.model
    unfreeze = resolve_unfreeze(recipe.unfreeze_from, card, assembled.backbone, assembled.freeze_index) \
        if two_stage else None
    history = done.history
    trainable = count_params(model.trainable_weights)  # stage one's, before any unfreezing
    finetune_trainable = None
    if not two_stage:
        test_loss, test_accuracy = evaluate(done.model, *done.test, recipe)
        labels, probabilities = predicted(done.model, *done.test, recipe)
    else:
        best_val = max(history["val_accuracy"])
        trained, stage_two, test_loss, test_accuracy, seconds, labels, probabilities = fine_tune(
            assembled, splits, recipe, unfreeze, best_val, progress,
            None if trial.tensorboard is None else str(Path(trial.tensorboard) / "finetune"))
        finetune_trainable = count_params(model.trainable_weights)
        fit_seconds += seconds
        history = {k: v + stage_two.get(k, []) for k, v in history.items()}
        history["finetune_start"] = recipe.epochs  # epochs before stage two, for the curves
    if not two_stage:
        trained = done.model
    if trained is not model:  # the full model did not train itself: compile it, so that the saved
        # .keras model can be evaluated or trained on as it is, with the optimizer that trained its
        # layers where they trained from images (its state for --save-optimizer)
        cached = not two_stage and use_cache
        model.compile(optimizer=make_optimizer(recipe) if cached else trained.optimizer,
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        if cached:
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
