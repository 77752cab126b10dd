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


SUMMARISED = ("test_accuracy", "train_step_ms", "fit_seconds")


def summary_frame(rows: list[dict]) -> pd.DataFrame:
    """Per backbone and dataset, over seeds: n, and mean, std, min and max of each summarised
    column (finished trials only; std is the sample standard deviation, empty for n = 1)."""
    frame = pd.DataFrame([r for r in rows if r.get("status") == "ok"],
                         columns=["backbone", "dataset", *SUMMARISED])
    stats = frame.groupby(["backbone", "dataset"], sort=False)[list(SUMMARISED)].agg(
        ["mean", "std", "min", "max"])
    stats.columns = [f"{column}_{stat}" for column, stat in stats.columns]
    stats.insert(0, "n", frame.groupby(["backbone", "dataset"], sort=False).size())
    return stats.reset_index().sort_values("test_accuracy_mean", ascending=False, kind="stable")


def _write_frame(frame: pd.DataFrame, folder: Path, stem: str) -> None:
    records = json.loads(frame.to_json(orient="records"))  # NaN -> null
    (folder / f"{stem}.json").write_text(json.dumps(records, indent=2) + "\n")
    frame.to_csv(folder / f"{stem}.csv", index=False)


def write_results(rows: list[dict], histories: dict[str, dict], folder: Path) -> None:
    """results.json/.csv (one row per trial), summary.json/.csv (over seeds), histories.json
    (per-epoch curves by trial key, for --resume), curves.png and tradeoff.png in ``folder``
    (rewritten each time)."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = results_frame(rows)
    _write_frame(frame, folder, "results")
    _write_frame(summary_frame(rows), folder, "summary")
    (folder / "histories.json").write_text(json.dumps(histories) + "\n")
    labels = curve_labels(rows)
    plot_curves({labels.get(key, key): history for key, history in histories.items()}, folder / "curves.png")
    plot_tradeoff(frame, folder / "tradeoff.png")


def curve_labels(rows: list[dict]) -> dict[str, str]:
    """Trial key -> its name on the plots: the backbone alone when every trial shares dataset and seed."""
    trials = [r for r in rows if r.get("trial")]
    one_setting = len({(r["dataset"], r["seed"]) for r in trials}) <= 1
    return {r["trial"]: r["backbone"] if one_setting else f"{r['backbone']} {r['dataset']} seed {r['seed']}"
            for r in trials}


def plot_curves(histories: dict[str, dict], path: Path) -> None:
    """Training (solid) and validation (dashed) loss and accuracy per epoch, per backbone.

    With two-stage fine-tuning both stages are on one curve; a dotted line marks the switch.
    """
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for index, (name, history) in enumerate(histories.items()):
        colour = f"C{index % 10}"
        for ax, key in ((loss_ax, "loss"), (acc_ax, "accuracy")):
            for prefix, style in (("", "-"), ("val_", "--")):
                values = history.get(prefix + key, [])
                epochs = range(1, len(values) + 1)
                ax.plot(epochs, values, style, color=colour, marker="o", markersize=3,
                        label=f"{name} {'validation' if prefix else 'training'}")
            if "finetune_start" in history:  # two-stage: where fine-tuning began
                ax.axvline(history["finetune_start"] + 0.5, color=colour, linestyle=":", alpha=0.7)
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


def _input(row) -> str:
    """The size the backbone saw, and the data's own shape when zoo adapted it."""
    size = str(row["input_size"])
    native = row.get("data_shape")
    return size if not native or native == f"{size}x{size}x3" else f"{size} (from {native})"


def _trainable(row) -> str:
    """Trainable parameters; with two-stage fine-tuning, stage one's, then stage two's."""
    first = _num(row["trainable_params"], ",")
    second = row.get("finetune_trainable_params")
    if second is None or (isinstance(second, float) and math.isnan(second)):
        return first
    return f"{first} then {_num(int(second), ',')}"


def _spread(mean, std, low, high, fmt, scale=1.0) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    text = format(mean * scale, fmt)
    if not (isinstance(std, float) and math.isnan(std)):
        text += f" ± {format(std * scale, fmt)} ({format(low * scale, fmt)}-{format(high * scale, fmt)})"
    return text


def summary_table(rows: list[dict], title: str = "zoo compare: mean ± standard deviation (min-max) over seeds"):
    """The grid summarised per backbone and dataset; trials that failed are counted apart."""
    summary = summary_frame(rows)
    failures = pd.DataFrame([r for r in rows if r.get("status") != "ok"], columns=["backbone", "dataset"])
    table = Table(title=title, caption=_caption(rows))
    for column in ("backbone", "dataset", "n", "test acc (%)", "train ms/step", "fit s", "failed"):
        table.add_column(column, justify="left" if column in ("backbone", "dataset") else "right")
    for row in summary.to_dict("records"):
        n_failed = int(((failures["backbone"] == row["backbone"]) & (failures["dataset"] == row["dataset"])).sum())
        table.add_row(row["backbone"], row["dataset"], str(row["n"]),
                      _spread(*(row[f"test_accuracy_{s}"] for s in ("mean", "std", "min", "max")), ".1f", 100),
                      _spread(*(row[f"train_step_ms_{s}"] for s in ("mean", "std", "min", "max")), ".1f"),
                      _num(row["fit_seconds_mean"], ".1f"), str(n_failed) if n_failed else "-")
    for backbone, dataset in failures.drop_duplicates().itertuples(index=False):
        if not ((summary["backbone"] == backbone) & (summary["dataset"] == dataset)).any():
            error = next(r["error"] for r in rows if r["backbone"] == backbone and r["dataset"] == dataset)
            table.add_row(backbone, dataset, "0", f"[red]failed: {error}[/]")
    return table


def _recipe(row) -> str:
    stage_two = f" + {row['finetune_epochs']} fine-tuning" if row.get("finetune_epochs") else ""
    return (f"weights {row.get('weights', '')}, head {row.get('head', '')}, {row.get('optimizer', '')} "
            f"lr {row.get('lr', '')}, {row.get('epochs', '')}{stage_two} epochs, batch {row.get('batch_size', '')}")


def _caption(rows: list[dict]) -> str:
    """Data, recipe and machine. A grid names every dataset, each with its note (a synthetic one
    says so) and, where datasets ran under different recommended settings, its own recipe."""
    first = rows[0] if rows else {}
    note = "".join(f"{text} | " for text in dict.fromkeys(filter(None, (row.get("data_note") for row in rows))))
    recipes = {row.get("dataset", ""): _recipe(row) for row in rows}
    if len(set(recipes.values())) <= 1:
        data = f"{', '.join(recipes)}, {_recipe(first)}"
    else:
        data = "; ".join(f"{dataset}: {recipe}" for dataset, recipe in recipes.items())
    return (f"{note}{data} | device: {first.get('device', '?')} | Keras {first.get('keras_version', '?')}, "
            f"backend {first.get('backend', '?')}")


def results_table(rows: list[dict], title: str = "zoo compare") -> Table:
    """The comparison as a rich table, best test accuracy first; failed backbones show their error."""
    frame = results_frame(rows)
    table = Table(title=title, caption=_caption(rows))
    table.add_column("backbone")
    for column in ("input", "test acc", "best val acc", "params", "trainable", "non-trainable",
                   "train ms/step", "infer img/s", "fit s"):
        table.add_column(column, justify="right")
    table.add_column("feature cache")
    for row in frame.to_dict("records"):
        if row["status"] != "ok":
            table.add_row(row["backbone"], f"[red]failed: {row['error']}[/]")
            continue
        table.add_row(row["backbone"], _input(row), _num(row["test_accuracy"], ".2%"),
                      _num(row["best_val_accuracy"], ".2%"), _num(row["total_params"], ","),
                      _trainable(row), _num(row["non_trainable_params"], ","),
                      _num(row["train_step_ms"], ".1f"), _num(row["infer_images_per_s"], ",.0f"),
                      _num(row["fit_seconds"], ".1f"), row["feature_cache"])
    return table
