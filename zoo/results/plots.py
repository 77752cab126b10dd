"""The plots a run leaves: learning curves and accuracy against cost (matplotlib, to files only)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..core.files import atomic_path  # noqa: E402
from ..core.rows import Status  # noqa: E402


def _save(fig, path: Path) -> None:
    try:
        with atomic_path(path) as partial:
            fig.savefig(partial, dpi=110)
    finally:
        plt.close(fig)


def plot_curves(histories: dict[str, dict], path: Path) -> None:
    """``curves_figure`` saved as ``path`` (a PNG)."""
    _save(curves_figure(histories), path)


def curves_figure(histories: dict[str, dict]):
    """Training (solid) and validation (dashed) loss and accuracy (%) per epoch, per backbone.

    With two-stage fine-tuning both stages are on one curve; a dotted line marks the switch.
    Epochs are whole numbers on the axis (a one-epoch run too), accuracy runs from 0 to 100%, and
    the legend stands beside the plots, where it covers no line.
    """
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(12, 4.2))
    longest = 1
    for index, (name, history) in enumerate(histories.items()):
        colour = f"C{index % 10}"
        for ax, key, scale in ((loss_ax, "loss", 1), (acc_ax, "accuracy", 100)):
            for prefix, style in (("", "-"), ("val_", "--")):
                values = [value * scale for value in history.get(prefix + key, [])]
                longest = max(longest, len(values))
                ax.plot(range(1, len(values) + 1), values, style, color=colour, marker="o", markersize=3,
                        label=f"{name} {'validation' if prefix else 'training'}")
            if "finetune_start" in history:  # two-stage: where fine-tuning began
                ax.axvline(history["finetune_start"] + 0.5, color=colour, linestyle=":", alpha=0.7)
    loss_ax.set_yscale("log")  # one diverging backbone must not flatten the others' curves
    acc_ax.set_ylim(0, 100)
    for ax, title in ((loss_ax, "Loss (log scale)"), (acc_ax, "Accuracy (%)")):
        ax.set(title=title, xlabel="epoch", xlim=(0.5, longest + 0.5))
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    if histories:
        acc_ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    fig.tight_layout()
    return fig


def pareto_front(cost, accuracy) -> list[int]:
    """Indices of the points no other point beats on both (lower cost and higher accuracy, or
    equal on one and better on the other), cheapest first."""
    points = list(zip(cost, accuracy))
    front = [i for i, (c, a) in enumerate(points)
             if not any(c2 <= c and a2 >= a and (c2, a2) != (c, a) for c2, a2 in points)]
    return sorted(front, key=lambda i: points[i][0])


def plot_tradeoff(frame: pd.DataFrame, path: Path) -> None:
    """``tradeoff_figure`` saved as ``path`` (a PNG)."""
    _save(tradeoff_figure(frame), path)


def tradeoff_figure(frame: pd.DataFrame):
    """Test accuracy (%) against training step time, as the table reads them: a point per
    trial sized by parameters, with its 95% Wilson interval as an error bar, labelled inside
    the frame, and the Pareto front (nothing both cheaper and more accurate) drawn through the
    points on it."""
    ok = frame[(frame["status"] == Status.OK) & frame["train_step_ms"].notna() & frame["test_accuracy"].notna()]
    cost = ok["train_step_ms"].astype(float).tolist()
    accuracy = (ok["test_accuracy"].astype(float) * 100).tolist()
    params = ok["total_params"].astype(float).fillna(0).tolist()  # a row from an older zoo may lack it
    largest = max(params, default=1) or 1
    fig, ax = plt.subplots(figsize=(7, 4.8))
    ax.scatter(cost, accuracy, s=[40 + 400 * p / largest for p in params], alpha=0.6, edgecolor="black",
               label="trial (area: parameters)")
    if "test_accuracy_low" in ok and ok["test_accuracy_low"].notna().any():  # older rows have no interval
        low = (ok["test_accuracy_low"].astype(float) * 100).fillna(pd.Series(accuracy, index=ok.index)).tolist()
        high = (ok["test_accuracy_high"].astype(float) * 100).fillna(pd.Series(accuracy, index=ok.index)).tolist()
        ax.errorbar(cost, accuracy, yerr=[[a - lo for a, lo in zip(accuracy, low)], [hi - a for a, hi in zip(accuracy, high)]],
                    fmt="none", ecolor="gray", elinewidth=1, capsize=3, alpha=0.7, label="95% Wilson interval")
    front = pareto_front(cost, accuracy)
    if len(front) > 1:  # one point is no front: nothing drawn, nothing in the legend
        ax.plot([cost[i] for i in front], [accuracy[i] for i in front], "--", color="C3", drawstyle="steps-post",
                label="Pareto front")
    ax.margins(x=0.25, y=0.2)  # room for the labels inside the frame
    ax.set_xlim(left=max(ax.get_xlim()[0], 0))  # no negative step times, nor accuracies
    ax.set_ylim(max(ax.get_ylim()[0], 0), min(ax.get_ylim()[1], 100))
    ax.figure.canvas.draw()
    middle = sum(ax.get_xlim()) / 2
    for x, y, name in zip(cost, accuracy, ok["backbone"]):
        right_half = x > middle  # label toward the middle, so it stays inside the frame
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(-8 if right_half else 8, 6),
                    ha="right" if right_half else "left", fontsize=8, annotation_clip=True)
    ax.set(xlabel="train step (ms, median)", ylabel="test accuracy (%)", title="Accuracy against training cost")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig
