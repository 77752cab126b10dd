"""The rank probe: one backbone's frozen features scored against the labels, nothing trained
(a ``zoo rank`` trial). The features are the backbone's output, average-pooled as the published
rankings pool them (the penultimate layer's average), from the feature store or extracted and
stored; zoo.scores gives LogME and a k-NN accuracy."""

from __future__ import annotations

import time
from dataclasses import replace

import keras

from .checks import trial_input_size
from .datasets import Splits
from .features import feature_key, frozen_features, kept
from .model import assemble
from .rows import RankRow, Status
from .scores import knn_accuracy, logme
from .store import FeatureStore
from .trials import Trial, rank_row


def rank_backbone(card, splits: Splits, trial: Trial, progress=None, say=print) -> RankRow:
    """Pooled frozen features of the training and validation splits, scored: LogME on the
    training features, k-NN accuracy of the validation features against them. Raises what
    building the backbone raises (BadInput for a weights file that does not fit)."""
    keras.utils.clear_session()
    recipe = trial.recipe
    size = trial_input_size(card, recipe.input_size, splits.image_shape)
    assembled = assemble(card, splits.data_shape(size), splits.num_classes, input_size=size, weights=recipe.weights,
                         freeze="all", pooling="avg", preprocess=recipe.preprocess, seed=trial.seed,
                         resize=recipe.resize)
    frozen = assembled.frozen or keras.Model(assembled.model.input, assembled.backbone.output)
    # Pooled as the published rankings pool (the penultimate layer's average): one vector per image.
    pooled = frozen if len(frozen.output.shape) == 2 else keras.Model(
        frozen.input, keras.layers.GlobalAveragePooling2D(name="rank_pool")(frozen.output))
    store = FeatureStore() if trial.store else None
    start, sources, got = time.perf_counter(), [], {}
    for part, x, y in (("train", splits.x_train, splits.y_train), ("val", splits.x_val, splits.y_val)):
        key = feature_key(assembled, weights=recipe.weights, preprocess=recipe.preprocess, pooling="avg",
                          dataset=trial.spec.store_name, split=part, limit=recipe.limit, val_split=recipe.val_split,
                          x=x, y=y, resize=recipe.resize) if store else {}
        features, source = frozen_features(pooled, x, y, key, store, batch_size=recipe.batch_size, in_memory=True,
                                           progress=progress, label=f"{card.name} features ({part})", say=say,
                                           resize=recipe.resize)
        got[part] = kept(features, x, y)  # without files that failed to decode
        sources.append(source)
    extract_seconds = time.perf_counter() - start
    if splits.failures_note():
        say(f"{card.name}: {splits.failures_note()}")
    start = time.perf_counter()
    (train, y_train), (val, y_val) = got["train"], got["val"]
    score = logme(train, y_train)
    knn = knn_accuracy(train, y_train, val, y_val)
    return replace(rank_row(trial, Status.OK), logme=score, knn_accuracy=knn, feature_dim=int(train.shape[1]),
                   train_images=len(y_train), val_images=len(y_val), skipped_images=splits.skipped_images(),
                   extract_seconds=extract_seconds,
                   score_seconds=time.perf_counter() - start, input_size=size,
                   feature_store=("miss" if "miss" in sources else "hit") if any(sources) else None)
