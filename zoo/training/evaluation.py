"""What a trial found on the test split, however it trained (fine-tuned, zoo.training.harness; a linear
probe, zoo.training.linear_probe): the row's test figures with their interval, the confusion matrix and
the predictions each image got. Plain NumPy on labels and predicted probabilities."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.datasets import Splits
from ..data.sources import FileView
from ..scores.stats import balanced_accuracy, majority_accuracy, wilson_interval


@dataclass
class Outcome:
    """A backbone's result row, its per-epoch history (for the curves) and its test predictions."""

    row: object  # zoo.core.rows.TrialRow
    history: dict = field(default_factory=dict)
    confusion: dict = field(default_factory=dict)  # classes, and matrix[true][predicted] on the test split
    predictions: dict = field(default_factory=dict)  # predictions.csv's columns (``predictions``)
    tuning: list = field(default_factory=list)  # one dict per candidate, where a list or --tune gave several


def test_figures(splits: Splits, labels, probabilities) -> dict:
    """The row's test figures from the test labels (n,) and predicted probabilities (n, classes)
    (without files that failed to decode): ``test_accuracy`` (right predictions counted: Keras's
    accuracy, exactly), its 95% Wilson interval (``test_accuracy_low``, ``test_accuracy_high``),
    ``balanced_accuracy``, and ``majority_accuracy``, the baseline of always predicting the
    training split's largest class."""
    labels = np.asarray(labels)
    if not len(labels):  # every test file failed to decode: nothing to count
        return dict.fromkeys(("test_accuracy", "test_accuracy_low", "test_accuracy_high", "balanced_accuracy",
                              "majority_accuracy"))
    correct = int((probabilities.argmax(axis=-1) == labels).sum())
    low, high = wilson_interval(correct, len(labels))
    train = splits.x_train
    train_labels = np.asarray(splits.y_train)[train.kept()] if isinstance(train, FileView) else splits.y_train
    return {"test_accuracy": correct / len(labels), "test_accuracy_low": low, "test_accuracy_high": high,
            "balanced_accuracy": balanced_accuracy(labels, probabilities.argmax(axis=-1)),
            "majority_accuracy": majority_accuracy(train_labels, labels)}


def confusion(splits: Splits, labels, probabilities) -> dict:
    """The classes, and ``matrix[true][predicted]`` of counts on the test split. (One bincount:
    scikit-learn's confusion_matrix would add nothing to it.)"""
    n = splits.num_classes
    counts = np.bincount(np.asarray(labels) * n + probabilities.argmax(axis=-1), minlength=n * n)
    return {"classes": list(splits.class_names), "matrix": counts.reshape(n, n).tolist()}


def predictions(splits: Splits, labels, probabilities) -> dict:
    """The test predictions as predictions.csv's columns (zoo.training.trials.PREDICTION_COLUMNS): each
    image's position in the test split and its file (folders; None for arrays), its true and
    predicted class by name, and the predicted class's probability."""
    x = splits.x_test
    positions = x.kept() if isinstance(x, FileView) else np.arange(len(labels))
    names = list(splits.class_names)
    predicted = probabilities.argmax(axis=-1)
    return {"index": positions.tolist(),
            "path": [x.files[i] for i in positions] if isinstance(x, FileView) else [None] * len(positions),
            "label": [names[i] for i in labels], "predicted": [names[i] for i in predicted],
            "confidence": [round(float(c), 6) for c in probabilities.max(axis=-1)]}


def decoded(x) -> int:
    """Images of a split that count: all of an array, a folder's without the files that failed."""
    return len(x) - len(x.failed) if isinstance(x, FileView) else len(x)
