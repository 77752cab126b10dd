"""Scores of frozen features against labels, to rank backbones without fine-tuning them.

Plain NumPy functions: ``logme`` (You et al., ICML 2021), and a baseline a user understands,
``knn_accuracy``. They take features (N, D) and integer labels (N,) and train nothing. And the
linear probe (``linear_probe``, ``choose_c``): logistic regression on the features, scikit-learn's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def logme(features, labels, *, tolerance: float = 1e-6, max_iterations: int = 100) -> float:
    """LogME: how well the features fit the labels with a Bayesian linear model, as the log
    evidence per sample, maximised over the model's prior and noise precisions (alpha, beta),
    averaged over the classes (one one-hot target each). Higher is better; the scale depends on
    the data, so compare backbones on the same images.

    For each target y, with F = U diag(s) V^T and z = U^T y, MacKay's fixed-point updates
    (gamma = sum(beta s^2 / (alpha + beta s^2)), alpha = gamma / |m|^2, beta = (N - gamma) / |y - Fm|^2),
    run in the SVD basis as in the authors' later fixed-point algorithm (You et al., arXiv
    2110.10545), reach the maximum; the evidence is then
    D/2 log alpha + N/2 log beta - 1/2 log|alpha I + beta F^T F| - beta/2 |y - Fm|^2 - alpha/2 |m|^2 - N/2 log 2 pi.
    With fewer samples than feature dimensions, log|.| counts the D - rank eigenvalues equal to
    alpha too (the reference implementation leaves them out there; with N > D both agree).
    """
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels).reshape(-1)
    n, d = f.shape
    if len(y) != n:
        raise ValueError(f"{n} feature rows but {len(y)} labels")
    onehot = (y[:, None] == np.arange(int(y.max()) + 1)).astype(np.float64)  # classes 0..C-1
    if n > d:
        # Many images: F^T F (D x D) is far cheaper than F's SVD, and u_i^T y = v_i^T F^T y / s_i.
        # Eigenvalues below 1e-12 of the largest are rounding in F^T F, not directions of F.
        sigma, v = np.linalg.eigh(f.T @ f)
        keep = sigma > 1e-12 * max(sigma.max(initial=0.0), 1e-300)
        sigma = sigma[keep]
        projections = (v[:, keep].T @ (f.T @ onehot)) / np.sqrt(sigma)[:, None]
    else:
        u, s, _ = np.linalg.svd(f, full_matrices=False)
        keep = s > 1e-10 * max(s.max(initial=0.0), 1e-300)  # the rank of F
        sigma = s[keep] ** 2
        projections = u[:, keep].T @ onehot
    tiny = np.finfo(np.float64).tiny
    scale = float(sigma.max(initial=0.0)) or 1.0  # the largest eigenvalue (1 for features all zero)
    evidences = []
    for label in range(onehot.shape[1]):
        target = onehot[:, label]
        z2 = projections[:, label] ** 2
        # The part of y no feature reaches (none at all when the features span every sample).
        outside = 0.0 if len(sigma) == n else max(float(target @ target - z2.sum()), 0.0)
        alpha, beta = 1.0, 1.0
        for _ in range(max_iterations):
            ratio = alpha / beta
            gamma = float((sigma / (sigma + ratio)).sum())
            m2 = float((sigma * z2 / (sigma + ratio) ** 2).sum())  # |m|^2
            residual = float((z2 * (ratio / (sigma + ratio)) ** 2).sum()) + outside  # |y - Fm|^2
            # Floors keep both precisions positive where the features fit a target exactly
            # (rank N: no residual, gamma = N).
            alpha, beta = max(gamma, tiny) / max(m2, tiny), max(n - gamma, tiny) / max(residual, tiny)
            # Where they fit it exactly, the evidence rises to its limit as beta grows without
            # bound: stop at alpha / beta = 1e-12 of the largest eigenvalue, past any visible change.
            # Where they do not help at all, it rises to its limit as alpha grows (m -> 0): stop at
            # alpha / beta = 1e12 of it, before the squares overflow.
            beta = min(beta, alpha / (1e-12 * scale))
            alpha = min(alpha, beta * 1e12 * scale)
            if abs(alpha / beta - ratio) <= tolerance * ratio:
                break
        ratio = alpha / beta
        m2 = float((sigma * z2 / (sigma + ratio) ** 2).sum())
        residual = float((z2 * (ratio / (sigma + ratio)) ** 2).sum()) + outside
        log_det = float(np.log(alpha + beta * sigma).sum()) + (d - len(sigma)) * np.log(alpha)
        evidence = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - log_det / 2 - beta / 2 * residual
                    - alpha / 2 * m2 - n / 2 * np.log(2 * np.pi))
        evidences.append(evidence / n)
    return float(np.mean(evidences))


def knn_accuracy(train_features, train_labels, val_features, val_labels, k: int = 5) -> float:
    """The accuracy on the validation features of a k-nearest-neighbour vote (cosine similarity)
    among the training features: a cheap baseline anyone can read."""
    def unit(x):
        x = np.asarray(x, dtype=np.float64)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    train, val = unit(train_features), unit(val_features)
    train_labels, val_labels = np.asarray(train_labels).reshape(-1), np.asarray(val_labels).reshape(-1)
    k = min(k, len(train))
    classes = int(max(train_labels.max(), val_labels.max())) + 1
    correct = 0
    # In chunks of about 2M similarities (16 MB each of the few arrays argpartition makes): an
    # N x M similarity matrix may not fit, and memory must not grow with the number of images.
    rows = max(1, (1 << 21) // max(len(train), 1))
    for start in range(0, len(val), rows):
        similarity = val[start:start + rows] @ train.T
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        votes = np.zeros((len(nearest), classes))
        np.add.at(votes, (np.arange(len(nearest))[:, None], train_labels[nearest]), 1)
        correct += int((votes.argmax(axis=1) == val_labels[start:start + rows]).sum())
    return correct / len(val)


# The linear probe's regularisation grid: C = 1/lambda from 1e-4 to 1e4, a decade apart (Kornblith
# et al. sweep a finer grid over a wider range; nine values keep `zoo rank` within minutes).
C_GRID = tuple(10.0 ** k for k in range(-4, 5))
# L-BFGS iterations per fit: scikit-learn's default. A large C that has not converged by then is a
# worse candidate, not an error, and uncapped it can take minutes on features that do not separate.
MAX_ITERATIONS = 100


@dataclass
class LinearProbe:
    """The grid's outcome: the C chosen, its validation accuracy, and every C's (in grid order)."""

    C: float
    val_accuracy: float
    val_accuracies: list


def linear_probe(C: float):
    """The linear probe at ``C``, unfitted: features standardised (their mean and variance on the
    data it is fitted on), then L2-regularised multinomial logistic regression (scikit-learn's
    ``LogisticRegression``, L-BFGS). Standardising makes L-BFGS converge on features of any scale
    and one C grid fit every backbone. The evaluation of Kornblith, Shlens and Le ("Do Better
    ImageNet Models Transfer Better?", CVPR 2019), used by the CLIP and DINOv2 papers too."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=MAX_ITERATIONS))


def one_blas_thread():
    """A context in which BLAS runs on one thread (threadpoolctl, which scikit-learn installs).
    SciPy's L-BFGS-B makes many small BLAS calls, and OpenBLAS's threads cost more than they
    save there: the C grid runs about 5 times faster on one thread (measured on 2 cores; SciPy
    issue 26137 profiles the same overhead)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


def choose_c(train_features, train_labels, val_features, val_labels, grid=C_GRID) -> LinearProbe:
    """The linear probe's C: fitted on the training features (N, D) at each C of ``grid``, in
    increasing order, each fit starting from the previous one's solution (scikit-learn's
    ``warm_start``: the path is several times cheaper than cold fits), on the features
    standardised as ``linear_probe`` does; the C with the best accuracy on the validation
    features (M, D) is kept, the smaller C (the simpler model) on a tie. Labels are integers."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    train_labels, val_labels = np.asarray(train_labels).reshape(-1), np.asarray(val_labels).reshape(-1)
    scaler = StandardScaler().fit(train_features)
    train, val = scaler.transform(train_features), scaler.transform(val_features)
    model = LogisticRegression(max_iter=MAX_ITERATIONS, warm_start=True)
    grid = sorted(grid)
    accuracies = []
    for C in grid:
        with warnings.catch_warnings(), one_blas_thread():  # a C too large to converge is only a worse candidate
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.set_params(C=C).fit(train, train_labels)
        accuracies.append(float(model.score(val, val_labels)))
    best = int(np.argmax(accuracies))  # the first maximum: the smallest C
    return LinearProbe(float(grid[best]), accuracies[best], accuracies)
