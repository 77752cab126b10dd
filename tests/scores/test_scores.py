"""LogME and the k-NN baseline (zoo.scores), checked against values computed another way."""

import numpy as np
import pytest
from scipy.optimize import minimize

from zoo.scores import knn_accuracy, logme


def evidence_by_brute_force(f, y):
    """LogME's definition computed directly: for each class, the log evidence of the Bayesian
    linear model with dense matrices (no SVD, no fixed point), maximised over log alpha and
    log beta by a general-purpose optimiser, per sample, averaged over classes."""
    n, d = f.shape

    def negative_evidence(logs, t):
        alpha, beta = np.exp(logs)
        a = alpha * np.eye(d) + beta * f.T @ f
        m = beta * np.linalg.solve(a, f.T @ t)
        _, log_det = np.linalg.slogdet(a)
        evidence = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - log_det / 2
                    - beta / 2 * np.sum((t - f @ m) ** 2) - alpha / 2 * m @ m - n / 2 * np.log(2 * np.pi))
        return -evidence / n

    best = []
    for label in range(int(y.max()) + 1):
        t = (y == label).astype(float)
        result = minimize(negative_evidence, x0=[0.0, 0.0], args=(t,), method="Nelder-Mead",
                          options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000})
        best.append(-result.fun)
    return float(np.mean(best))


@pytest.mark.parametrize("n, d", [(120, 6), (40, 60)])  # more samples than dimensions, and fewer
def test_logme_is_the_maximum_evidence(n, d):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    f = rng.normal(size=(n, d)) + 0.8 * np.eye(3)[y] @ rng.normal(size=(3, d))
    assert logme(f, y) == pytest.approx(evidence_by_brute_force(f, y), abs=1e-4)


def test_features_that_tell_the_classes_apart_score_higher():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, 500)
    informative = np.eye(10)[y] @ rng.normal(size=(10, 32)) + 0.3 * rng.normal(size=(500, 32))
    noise = rng.normal(size=(500, 32))
    assert logme(informative, y) > logme(noise, y) + 0.1
    with pytest.raises(ValueError, match="500 feature rows but 499 labels"):
        logme(noise, y[:-1])


def test_knn_accuracy_on_clusters_and_on_noise():
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(4, 8)) * 5
    y_train, y_val = rng.integers(0, 4, 200), rng.integers(0, 4, 100)
    train = centres[y_train] + 0.3 * rng.normal(size=(200, 8))
    val = centres[y_val] + 0.3 * rng.normal(size=(100, 8))
    assert knn_accuracy(train, y_train, val, y_val) == 1.0
    chance = knn_accuracy(rng.normal(size=(200, 8)), y_train, rng.normal(size=(100, 8)), y_val)
    assert 0.1 < chance < 0.45, "unrelated features: about 1 in 4"


def test_logme_is_finite_when_the_features_fit_every_target_exactly(recwarn):
    """Fewer images than feature dimensions (a small --limit on a 2048-wide backbone): the
    features span every sample, and the evidence approaches its limit as beta grows."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 10, 50)
    f = rng.normal(size=(50, 400))
    assert np.isfinite(logme(f, y))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_logme_is_finite_when_the_features_say_nothing_of_a_class(recwarn):
    """A dead random backbone (features all zero), or one direction only: for a class the features
    do not help with, the evidence approaches its limit as alpha grows (m -> 0). Without a bound
    the fixed point overflowed; the limit is the evidence of y ~ N(0, 1 / beta), beta = N / |y|^2."""
    rng = np.random.default_rng(4)
    y = rng.integers(0, 4, 64)
    limit = []
    for label in range(4):
        t = (y == label).astype(float)
        beta = len(t) / (t @ t)
        limit.append((len(t) / 2 * np.log(beta) - beta / 2 * (t @ t) - len(t) / 2 * np.log(2 * np.pi)) / len(t))
    assert logme(np.zeros((64, 16)), y) == pytest.approx(np.mean(limit), abs=1e-9)
    nearly_flat = np.outer(np.ones(64), [2.0, 0.0]) + 1e-3 * rng.normal(size=(64, 2))
    assert np.isfinite(logme(nearly_flat, y))
    assert logme(nearly_flat, y) == pytest.approx(evidence_by_brute_force(nearly_flat, y), abs=1e-3)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
