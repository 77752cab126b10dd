"""Scores of frozen features against labels, to rank backbones without fine-tuning them, and
the statistics that say how sure a comparison is. Nothing here imports Keras or the rest of zoo.

- ``transferability``: ``logme`` (You et al., ICML 2021) and ``knn_accuracy``;
- ``logistic``: the linear probe (``linear_probe``, ``choose_c``), scikit-learn's;
- ``stats``: Wilson and t intervals, exact McNemar, Holm, Kendall's tau and its bootstrap.

They take features (N, D) and integer labels (N,). ``zoo.scores.logme(features, labels)`` is
the public face; a new score goes in this package.
"""

from .logistic import C_GRID, MAX_ITERATIONS, LinearProbe, choose_c, linear_probe, one_blas_thread
from .transferability import knn_accuracy, logme

__all__ = ["C_GRID", "MAX_ITERATIONS", "LinearProbe", "choose_c", "knn_accuracy", "linear_probe", "logme",
           "one_blas_thread"]
