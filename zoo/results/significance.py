"""Which backbones the test split cannot tell from the best: for each dataset and seed (and
options, where a folder holds runs under several), the exact McNemar test of every backbone
against the most accurate one on the same test images, Holm-corrected across the backbones
compared (zoo.scores.stats). The rows get ``p_vs_best`` and ``tied_with_best``."""

from __future__ import annotations

from dataclasses import replace

from ..core.rows import Status, TrialRow
from ..scores.stats import ALPHA, holm, mcnemar_p
from .report import option_labels


def right_answers(predictions: dict) -> dict[int, bool]:
    """Test image position -> whether the trial's prediction was right (predictions.csv's columns)."""
    return {int(i): label == guess for i, label, guess in
            zip(predictions["index"], predictions["label"], predictions["predicted"])}


def with_significance(rows: list[TrialRow], predictions: dict[str, dict]) -> list[TrialRow]:
    """The rows with ``p_vs_best`` (the Holm-adjusted exact McNemar p-value against the best of
    their dataset, seed and options; empty for the best) and ``tied_with_best`` (True unless that
    p is below 5%). ``predictions`` holds each trial's predictions.csv columns by trial key; a row
    without them (a failed trial, an older zoo's) gets neither. Images that only one of the two
    trials has (a file that failed to decode in one) are left out of their test."""
    labels = option_labels([row.to_dict() for row in rows])
    groups: dict[tuple, list[int]] = {}
    for i, (row, label) in enumerate(zip(rows, labels)):
        if row.status == Status.OK and row.test_accuracy is not None:
            groups.setdefault((row.dataset, row.seed, label), []).append(i)
    out = [replace(row, p_vs_best=None, tied_with_best=None) for row in rows]
    for members in groups.values():
        best = max(members, key=lambda i: rows[i].test_accuracy)  # the first of equals, as the table sorts
        if not predictions.get(rows[best].trial):  # the best has no predictions (an older zoo's row): no test
            continue
        best_right = right_answers(predictions[rows[best].trial])
        others = [i for i in members if i != best and predictions.get(rows[i].trial)]
        raw = []
        for i in others:
            right = right_answers(predictions[rows[i].trial])
            common = sorted(set(right) & set(best_right))
            raw.append(mcnemar_p([best_right[k] for k in common], [right[k] for k in common]))
        out[best] = replace(out[best], tied_with_best=True)
        for i, p in zip(others, holm(raw)):
            out[i] = replace(out[i], p_vs_best=p, tied_with_best=bool(p >= ALPHA))
    return out
