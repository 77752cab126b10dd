"""What a comparison leaves behind: the rich table, results.json/.csv and the plots."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from rich.table import Table  # noqa: E402

from .harness import RESULT_KEYS  # noqa: E402


def results_frame(rows: list[dict]) -> pd.DataFrame:
    """The rows as a DataFrame with the documented columns first, best test accuracy on top."""
    frame = pd.DataFrame(rows)
    columns = RESULT_KEYS + [c for c in frame.columns if c not in RESULT_KEYS]
    frame = frame.reindex(columns=columns)
    return frame.sort_values("test_accuracy", ascending=False, na_position="last", kind="stable")


def write_results(rows: list[dict], histories: dict[str, dict], folder: Path) -> None:
    """results.json, results.csv, curves.png and tradeoff.png in ``folder`` (rewritten each time)."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = results_frame(rows)
    records = json.loads(frame.to_json(orient="records"))  # NaN -> null
    (folder / "results.json").write_text(json.dumps(records, indent=2) + "\n")
    frame.to_csv(folder / "results.csv", index=False)
    plot_curves(histories, folder / "curves.png")
    plot_tradeoff(frame, folder / "tradeoff.png")


def plot_curves(histories: dict[str, dict], path: Path) -> None:
    """Training (solid) and validation (dashed) loss and accuracy per epoch, per backbone."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for index, (name, history) in enumerate(histories.items()):
        colour = f"C{index % 10}"
        for ax, key in ((loss_ax, "loss"), (acc_ax, "accuracy")):
            for prefix, style in (("", "-"), ("val_", "--")):
                values = history.get(prefix + key, [])
                epochs = range(1, len(values) + 1)
                ax.plot(epochs, values, style, color=colour, marker="o", markersize=3,
                        label=f"{name} {'validation' if prefix else 'training'}")
    loss_ax.set_yscale("log")  # one diverging backbone must not flatten the others' curves
    for ax, title in ((loss_ax, "Loss (log scale)"), (acc_ax, "Accuracy")):
        ax.set(title=title, xlabel="epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if histories:
        acc_ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_tradeoff(frame: pd.DataFrame, path: Path) -> None:
    """Test accuracy against training step time: one labelled point per backbone."""
    ok = frame[frame["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.scatter(ok["train_step_ms"], ok["test_accuracy"])
    for _, row in ok.iterrows():
        ax.annotate(row["backbone"], (row["train_step_ms"], row["test_accuracy"]),
                    textcoords="offset points", xytext=(5, 5))
    ax.set(xlabel="train step (ms, median)", ylabel="test accuracy",
           title="Accuracy against training cost")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _num(value, fmt):
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)


def results_table(rows: list[dict], title: str = "zoo compare") -> Table:
    """The comparison as a rich table, best test accuracy first; failed backbones show their error."""
    frame = results_frame(rows)
    first = rows[0] if rows else {}
    caption = (f"{first.get('dataset', '')}, weights {first.get('weights', '')}, "
               f"{first.get('epochs', '')} epochs, batch {first.get('batch_size', '')} | "
               f"device: {first.get('device', '?')} | Keras {first.get('keras_version', '?')}, "
               f"backend {first.get('backend', '?')}")
    table = Table(title=title, caption=caption)
    table.add_column("backbone")
    for column in ("input", "test acc", "best val acc", "params", "trainable", "non-trainable",
                   "train ms/step", "infer img/s", "fit s"):
        table.add_column(column, justify="right")
    table.add_column("feature cache")
    for row in frame.to_dict("records"):
        if row["status"] != "ok":
            table.add_row(row["backbone"], f"[red]failed: {row['error']}[/]")
            continue
        table.add_row(row["backbone"], str(row["input_size"]), _num(row["test_accuracy"], ".2%"),
                      _num(row["best_val_accuracy"], ".2%"), _num(row["total_params"], ","),
                      _num(row["trainable_params"], ","), _num(row["non_trainable_params"], ","),
                      _num(row["train_step_ms"], ".1f"), _num(row["infer_images_per_s"], ",.0f"),
                      _num(row["fit_seconds"], ".1f"), row["feature_cache"])
    return table
