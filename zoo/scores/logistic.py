"""The linear probe: L2-regularised logistic regression on frozen features (scikit-learn's),
its C chosen on validation. Kornblith, Shlens and Le's evaluation (CVPR 2019).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
