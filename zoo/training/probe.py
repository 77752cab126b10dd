"""The rank probe: one backbone's frozen features scored against the labels, nothing trained
(a ``zoo rank`` trial). The features are the backbone's output pooled into one vector per image
(``rank_pooling``), from the feature store or extracted and stored; zoo.scores gives LogME, a
k-NN accuracy and the linear probe's validation accuracy. ``pooled_features`` is shared with the
linear-probe protocol (zoo.training.linear_probe)."""

from __future__ import annotations

import time
from dataclasses import replace

import keras

from ..backbones.checks import trial_input_size
from ..backbones.model import assemble, pooling_layer
from ..core.rows import RankRow, Status
from ..data.datasets import Splits
from ..scores import choose_c, knn_accuracy, logme
from .features import feature_key, frozen_features, kept
from .store import FeatureStore
from .trials import Trial, rank_row


def rank_pooling(card) -> str:
    """How ``zoo rank`` pools: a feature map by its average, as the published rankings pool (the
    penultimate layer's average); tokens and vectors by the card's own pooling (CLS, patch mean,
    none), since a transformer's features are read that way (the rank table says which)."""
    return "avg" if card.output == "map" else card.pooling


def pooled_features(card, splits: Splits, trial: Trial, parts, *, pooling: str | None = None, progress=None,
                    say=print):
    """The backbone's frozen features pooled into one vector per image, for each split of
    ``parts`` (of train, val, test): from the feature store, or extracted and stored. Returns
    ``(found, assembled, pooling, source)``: ``found[part]`` is ``(features (n, d), labels (n,))``
    without files that failed to decode, and ``source`` hit, miss or "" (no store). Raises what
    building the backbone raises (BadInput for a weights file that does not fit)."""
    keras.utils.clear_session()
    recipe = trial.recipe
    size = trial_input_size(card, recipe.input_size, splits.image_shape, recipe.weights)
    pooling = pooling or rank_pooling(card)
    assembled = assemble(card, splits.data_shape(size), splits.num_classes, input_size=size, weights=recipe.weights,
                         freeze="all", pooling=pooling, preprocess=recipe.preprocess, seed=trial.seed,
                         resize=recipe.resize)
    frozen = assembled.frozen or keras.Model(assembled.model.input, assembled.backbone.output)
    pooled = frozen if len(frozen.output.shape) == 2 else keras.Model(
        frozen.input, pooling_layer(pooling, card.prefix_tokens)(frozen.output))
    store = FeatureStore() if trial.store else None
    sources, found = [], {}
    splits_by_part = {"train": (splits.x_train, splits.y_train), "val": (splits.x_val, splits.y_val),
                      "test": (splits.x_test, splits.y_test)}
    for part in parts:
        x, y = splits_by_part[part]
        key = feature_key(assembled, weights=recipe.weights, preprocess=recipe.preprocess, pooling=pooling,
                          dataset=trial.spec.store_name, split=part, limit=recipe.limit, val_split=recipe.val_split,
                          x=x, y=y, resize=recipe.resize) if store else {}
        features, source = frozen_features(pooled, x, y, key, store, batch_size=recipe.batch_size, in_memory=True,
                                           progress=progress, label=f"{card.name} features ({part})", say=say,
                                           resize=recipe.resize)
        found[part] = kept(features, x, y)  # without files that failed to decode
        sources.append(source)
    if splits.failures_note():
        say(f"{card.name}: {splits.failures_note()}")
    return found, assembled, pooling, ("miss" if "miss" in sources else "hit") if any(sources) else ""


def rank_backbone(card, splits: Splits, trial: Trial, progress=None, say=print) -> RankRow:
    """Pooled frozen features of the training and validation splits, scored: LogME on the
    training features, k-NN accuracy and the linear probe's accuracy (its C chosen on them) of
    the validation features. Raises what building the backbone raises (BadInput for a weights
    file that does not fit)."""
    start = time.perf_counter()
    found, assembled, pooling, source = pooled_features(card, splits, trial, ("train", "val"), progress=progress,
                                                        say=say)
    extract_seconds = time.perf_counter() - start
    start = time.perf_counter()
    (train, y_train), (val, y_val) = found["train"], found["val"]
    score = logme(train, y_train)
    knn = knn_accuracy(train, y_train, val, y_val)
    try:
        probe = choose_c(train, y_train, val, y_val).val_accuracy
    except ValueError as exc:  # one class in the training split (a small --limit): the other scores stand
        say(f"{card.name}: no linear-probe score ({exc})")
        probe = None
    return replace(rank_row(trial, Status.OK), logme=score, knn_accuracy=knn, linear_probe=probe,
                   feature_dim=int(train.shape[1]), train_images=len(y_train), val_images=len(y_val),
                   skipped_images=splits.skipped_images(), extract_seconds=extract_seconds,
                   score_seconds=time.perf_counter() - start, input_size=assembled.input_size, pooling=pooling,
                   feature_store=source or None)
