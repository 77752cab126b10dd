"""How well a ranking agreed with fine-tuning: Kendall's tau and the weighted tau between each
rank score (zoo rank) and the fine-tuned test accuracy of the same backbones, per dataset."""

from __future__ import annotations

from ..core.formatting import num
from ..core.rows import RANK_BY, Status
from ..scores.stats import kendall_tau_interval

MIN_FOR_TAU = 3  # backbones with both a score and a test accuracy before tau means anything


def agreement(rank_rows, result_rows) -> list[dict]:
    """Per dataset and score, Kendall's tau and the weighted tau (scipy) between the score and the
    mean fine-tuned test accuracy over seeds, where at least ``MIN_FOR_TAU`` backbones have both.

    ``rank_rows`` are RankRows; ``result_rows`` are result rows as dicts. Each entry found is
    ``{dataset, score, n, kendall_tau, kendall_tau_low, kendall_tau_high, kendall_p, weighted_tau,
    backbones}``, where low and high are tau's 95% percentile bootstrap interval over backbones
    resampled with replacement (zoo.scores.stats.kendall_tau_interval).
    """
    from scipy.stats import kendalltau, weightedtau

    found = []
    for dataset in dict.fromkeys(r.dataset for r in rank_rows if r.status == Status.OK):
        # Fine-tuned from the same weights as were ranked (random-weight scores say nothing of
        # ImageNet fine-tuning); rows that do not say which weights are taken as they come.
        weights = {r.backbone: r.weights for r in rank_rows if r.dataset == dataset}
        accuracies: dict[str, list[float]] = {}
        for row in result_rows:
            if (row.get("dataset") == dataset and row.get("status") == Status.OK
                    and row.get("test_accuracy") is not None
                    and row.get("weights") in (None, weights.get(row["backbone"]))):
                accuracies.setdefault(row["backbone"], []).append(float(row["test_accuracy"]))
        for score in RANK_BY.values():
            scores = {r.backbone: getattr(r, score) for r in rank_rows
                      if r.dataset == dataset and r.status == Status.OK and getattr(r, score) is not None}
            common = sorted(set(scores) & set(accuracies))
            if len(common) < MIN_FOR_TAU:
                continue
            x = [scores[b] for b in common]
            y = [sum(accuracies[b]) / len(accuracies[b]) for b in common]
            tau = kendalltau(x, y)
            # With few backbones a tau means little: its 95% interval, backbones resampled.
            low, high = kendall_tau_interval(x, y)
            found.append({"dataset": dataset, "score": score, "n": len(common), "kendall_tau": float(tau.statistic),
                          "kendall_tau_low": low, "kendall_tau_high": high,
                          "kendall_p": float(tau.pvalue), "weighted_tau": float(weightedtau(x, y).statistic),
                          "backbones": common})
    return found


def agreement_caption(found: list[dict]) -> str:
    """``LogME vs test accuracy (cifar10, 5 backbones): Kendall tau 0.60 (95% CI -0.20 to 1.00),
    weighted tau 0.71``."""
    names = {"logme": "LogME", "knn_accuracy": "k-NN", "linear_probe": "linear probe"}
    return "; ".join(f"{names[a['score']]} vs test accuracy ({a['dataset']}, {a['n']} backbones): Kendall tau "
                     f"{num(a['kendall_tau'], '.2f')}{_interval(a)}, weighted tau {num(a['weighted_tau'], '.2f')}"
                     for a in found)


def _interval(found: dict) -> str:
    low, high = found.get("kendall_tau_low"), found.get("kendall_tau_high")
    return "" if low is None or low != low else f" (95% CI {low:.2f} to {high:.2f})"
