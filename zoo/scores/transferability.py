"""How transferable frozen features are, scored without training: LogME (You et al., ICML
2021) and a baseline a user understands, the k-nearest-neighbour accuracy. Plain NumPy: features
(N, D) and integer labels (N,).
"""

from __future__ import annotations

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
