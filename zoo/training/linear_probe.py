"""The linear-probe protocol (``zoo compare --protocol linear-probe``): the standard evaluation of
frozen features (Kornblith, Shlens and Le, CVPR 2019; the CLIP and DINOv2 papers). The pooled
features of each split come from the feature store (zoo.training.probe); a logistic regression is fitted
on the training features at each C of a log grid, the C with the best validation accuracy is
kept, the probe is fitted again on train plus validation, and evaluated once on the test split.
No epochs, no learning rate: it is deterministic."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from ..core.rows import Status
from ..data.datasets import Splits
from ..scores import choose_c, linear_probe, one_blas_thread
from .evaluation import Outcome, confusion, decoded, predictions, test_figures
from .probe import pooled_features
from .trials import Trial, trial_row


def run_linear_probe(card, splits: Splits, trial: Trial, progress=None, say=print) -> Outcome:
    """The linear probe of ``card``'s frozen features under ``trial.recipe`` (pooled as
    ``--pooling`` says, or as ``zoo rank`` pools); returns its row (``protocol`` linear-probe,
    ``C``), its test predictions and confusion matrix. Raises what building the backbone raises."""
    recipe = trial.recipe
    start = time.perf_counter()
    pooling = None if recipe.pooling == "recommended" else recipe.pooling
    found, assembled, pooling, source = pooled_features(card, splits, trial, ("train", "val", "test"),
                                                        pooling=pooling, progress=progress, say=say)
    (train, y_train), (val, y_val), (test, y_test) = found["train"], found["val"], found["test"]
    chosen = choose_c(train, y_train, val, y_val)
    # Refit on train and validation together at the chosen C: the test split chooses nothing.
    with one_blas_thread():
        probe = linear_probe(chosen.C).fit(np.concatenate([train, val]), np.concatenate([y_train, y_val]))
    probabilities = np.zeros((len(y_test), splits.num_classes), np.float32)
    probabilities[:, probe.classes_] = probe.predict_proba(test)  # classes absent from training stay 0
    weights = int(train.shape[1]) * splits.num_classes + splits.num_classes
    backbone = int(assembled.backbone.count_params())
    row = replace(
        trial_row(trial, Status.OK), freeze="all", freeze_index=len(assembled.backbone.layers), pooling=pooling,
        head=None, dropout=None, optimizer=None, lr=None, momentum=None, epochs=None, finetune_epochs=None, C=chosen.C,
        data_shape="x".join(map(str, splits.data_shape(assembled.input_size))), data_source=splits.source,
        data_note=splits.note, skipped_images=splits.skipped_images(), train_images=decoded(splits.x_train),
        val_images=decoded(splits.x_val), test_images=decoded(splits.x_test), input_size=assembled.input_size,
        **test_figures(splits, y_test, probabilities), best_val_accuracy=chosen.val_accuracy, total_params=backbone + weights, trainable_params=weights,
        non_trainable_params=backbone, fit_seconds=time.perf_counter() - start,
        feature_cache=f"pooled ({pooling}) features, {train.shape[1]} per image", feature_store=source or None)
    return Outcome(row, {}, confusion(splits, y_test, probabilities), predictions(splits, y_test, probabilities))
