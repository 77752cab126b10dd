"""How sure a comparison is: intervals and paired tests on test predictions, plain NumPy and SciPy.

- ``wilson_interval``: a 95% interval for one accuracy over the test images (Wilson, 1927);
- ``t_interval``: a 95% interval for a mean over seeds (Student's t);
- ``mcnemar_p``: the exact McNemar test between two classifiers on the same images;
- ``holm``: Holm's step-down correction of several p-values (Holm, 1979);
- ``balanced_accuracy`` (scikit-learn) and ``majority_accuracy``: what an imbalanced test split needs beside accuracy;
- ``kendall_tau_b`` and ``kendall_tau_interval``: Kendall's tau-b, and its percentile bootstrap interval.

SciPy and scikit-learn are imported inside the functions: ``zoo --help`` does not pay for it.
"""

from __future__ import annotations

import math

import numpy as np

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE  # a backbone is "tied with the best" unless p < ALPHA after Holm


def wilson_interval(correct: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of an accuracy of ``correct`` out of ``n`` images, as fractions
    (scipy.stats.binomtest's ``proportion_ci(method="wilson")``; Wilson, JASA 1927). (nan, nan)
    for n = 0. Raises ValueError when ``correct`` is not in 0..n."""
    from scipy.stats import binomtest

    if n == 0:
        return math.nan, math.nan
    interval = binomtest(int(correct), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def t_interval(values, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The t-interval of the mean of ``values`` (one accuracy per seed): mean ± t(n-1) s/sqrt(n).
    (nan, nan) for fewer than two values; the mean twice when they are all equal."""
    from scipy.stats import t

    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return math.nan, math.nan
    mean, sem = float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))
    if sem == 0:
        return mean, mean
    low, high = t.interval(confidence, len(values) - 1, loc=mean, scale=sem)
    return float(low), float(high)


def mcnemar_p(first_right, second_right) -> float:
    """The exact (binomial) McNemar test of two classifiers on the same images: ``first_right``
    and ``second_right`` are booleans (n,), whether each got each image right. Of the discordant
    images, b are right only for the first and c only for the second; under the null hypothesis
    (equal accuracy) b ~ Binomial(b + c, 1/2). Returns the two-sided p-value (1 with no
    discordant image). McNemar, Psychometrika 1947; the exact form as in Fagerland et al., BMC
    Medical Research Methodology 2013. Raises ValueError when the shapes differ."""
    from scipy.stats import binomtest

    first, second = np.asarray(first_right, bool), np.asarray(second_right, bool)
    if first.shape != second.shape:
        raise ValueError(f"the two classifiers were tested on {first.shape} and {second.shape} images")
    b, c = int((first & ~second).sum()), int((~first & second).sum())
    return 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)


def holm(p_values) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given (Holm, Scandinavian Journal of
    Statistics 1979): sorted ascending, the i-th (from 0) times (m - i), kept monotone, capped at 1.
    Hand-written: SciPy has no Holm correction, and statsmodels would be a dependency for these lines."""
    p = np.asarray(list(p_values), dtype=np.float64)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p)))))
    out = np.empty_like(p)
    out[order] = adjusted
    return out.tolist()


def balanced_accuracy(labels, predicted) -> float:
    """The mean of the per-class recalls over the classes present in ``labels`` (scikit-learn's
    ``balanced_accuracy_score``; Brodersen et al., ICPR 2010)."""
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    if not len(labels):
        return math.nan
    with warnings.catch_warnings():  # a class predicted that the test split lacks: counted as sklearn does
        warnings.simplefilter("ignore")
        return float(balanced_accuracy_score(np.asarray(labels), np.asarray(predicted)))


def majority_accuracy(train_labels, test_labels) -> float:
    """The test accuracy of always predicting the training split's largest class: the baseline a
    backbone must beat on imbalanced data."""
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    if not len(train_labels) or not len(test_labels):
        return math.nan
    return float((test_labels == np.bincount(train_labels).argmax()).mean())


def kendall_tau_b(x, y) -> np.ndarray:
    """Kendall's tau-b of each row of ``x`` and ``y`` (R, n): (concordant - discordant) pairs
    over the square root of (pairs not tied in x) x (pairs not tied in y), as scipy's
    ``kendalltau`` defines it; NaN where every value of a row is equal. Hand-written, vectorised
    over rows: the bootstrap below needs a thousand taus at once, and one ``kendalltau`` call
    each took 0.2 s per score on every save of a run folder."""
    x, y = np.atleast_2d(np.asarray(x, dtype=np.float64)), np.atleast_2d(np.asarray(y, dtype=np.float64))
    first, second = np.triu_indices(x.shape[1], 1)
    dx, dy = np.sign(x[:, first] - x[:, second]), np.sign(y[:, first] - y[:, second])
    untied = np.count_nonzero(dx, axis=1) * np.count_nonzero(dy, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(untied > 0, (dx * dy).sum(axis=1) / np.sqrt(untied), np.nan)


def kendall_tau_interval(x, y, *, resamples: int = 1000, confidence: float = CONFIDENCE,
                         seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval of Kendall's tau-b between paired values ``x`` and ``y``
    (n,), one pair per backbone, resampled with replacement ``resamples`` times (Efron and
    Tibshirani, An Introduction to the Bootstrap, 1993). Resamples where tau is undefined (all x
    or all y equal) are left out; (nan, nan) when none is left. scipy.stats.bootstrap would
    return NaN whenever one resample is undefined, which with 5 backbones is most runs."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    picks = np.random.default_rng(seed).integers(0, len(x), (resamples, len(x)))
    found = kendall_tau_b(x[picks], y[picks])
    found = found[np.isfinite(found)]
    if not len(found):
        return math.nan, math.nan
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(found, [tail, 100 - tail])
    return float(low), float(high)
