"""What a comparison leaves behind: the rich table, results.json/.csv and the plots."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from rich.markup import escape  # noqa: E402
from rich.table import Table  # noqa: E402

from .output import atomic_path, finite, write_text  # noqa: E402
from .rows import TrialRow, frame  # noqa: E402
from .trials import trial_labels  # noqa: E402


def results_frame(rows) -> pd.DataFrame:
    """The rows (``TrialRow`` or dicts) as a DataFrame of typed columns, best test accuracy on top."""
    return frame(rows).sort_values("test_accuracy", ascending=False, na_position="last", kind="stable")


def _dicts(rows) -> list[dict]:
    return [row.to_dict() if isinstance(row, TrialRow) else row for row in rows]


SUMMARISED = ("test_accuracy", "train_step_ms", "fit_seconds")


def option_labels(rows: list[dict]) -> list[str]:
    """For each row, the options in which its recipe differs from other rows of the same dataset
    (say ``epochs 2``), "" where they all agree: a resumed folder can hold trials run under
    different options, and those must not be averaged together."""
    recipe = [r.get("recipe") if isinstance(r.get("recipe"), str) else None for r in rows]  # NaN from pandas
    by_dataset: dict[str, set] = {}
    for row, text in zip(rows, recipe):
        by_dataset.setdefault(row.get("dataset"), set()).add(text)
    labels = {}
    for dataset, recipes in by_dataset.items():
        parsed = {text: json.loads(text) for text in recipes if isinstance(text, str)}
        keys = sorted({key for options in parsed.values() for key in options})
        differing = [k for k in keys if len({json.dumps(o.get(k), sort_keys=True) for o in parsed.values()}) > 1]
        for text in recipes:
            if text in parsed:
                label = ", ".join(f"{key} {parsed[text].get(key)}" for key in differing)
            else:  # a row from a zoo that did not record its options
                label = "options not recorded" if len(recipes) > 1 else ""
            labels[dataset, text] = label
    return [labels[row.get("dataset"), text] for row, text in zip(rows, recipe)]


SUMMARY_KEYS = ["backbone", "dataset", "options"]


def _with_options(rows: list[dict]) -> list[dict]:
    """The rows, each with its ``options`` label."""
    return [{**row, "options": label} for row, label in zip(rows, option_labels(rows))]


def summary_frame(rows: list[dict]) -> pd.DataFrame:
    """Per backbone, dataset and options, over seeds: n, and mean, std, min and max of each
    summarised column (finished trials only; std is the sample standard deviation, empty for
    n = 1). ``options`` is "" unless trials of one dataset ran under different options."""
    return _summarise(_with_options(_dicts(rows)))


def _summarise(labelled: list[dict]) -> pd.DataFrame:
    ok = [row for row in labelled if row.get("status") == "ok"]
    frame = pd.DataFrame(ok, columns=[*SUMMARY_KEYS, *SUMMARISED])
    stats = frame.groupby(SUMMARY_KEYS, sort=False)[list(SUMMARISED)].agg(["mean", "std", "min", "max"])
    stats.columns = [f"{column}_{stat}" for column, stat in stats.columns]
    stats.insert(0, "n", frame.groupby(SUMMARY_KEYS, sort=False).size())
    return stats.reset_index().sort_values("test_accuracy_mean", ascending=False, kind="stable")


def _write_frame(frame: pd.DataFrame, folder: Path, stem: str) -> None:
    records = json.loads(frame.to_json(orient="records", double_precision=15))  # NaN -> null
    write_text(folder / f"{stem}.json", json.dumps(records, indent=2) + "\n")
    write_text(folder / f"{stem}.csv", frame.to_csv(index=False))


def write_results(rows, histories: dict[str, dict], folder: Path, confusions: dict | None = None,
                  command: str = "") -> None:
    """results.json/.csv (one row per trial), summary.json/.csv (over seeds), histories.json
    (per-epoch curves by trial key, for --resume), confusion.json and per_class.csv (on the
    test split), curves.png, tradeoff.png, agreement.json (with rank scores in the folder) and
    report.html in ``folder`` (rewritten each time, each file whole or not at all). The plots
    are drawn once there is something to draw. A file that cannot be written raises
    ``zoo.output.WriteError``."""
    from .html_report import write_report
    from .ranking import read_rank, write_agreement

    frame = results_frame(rows)  # TrialRows go straight into the frame; dicts are typed on the way
    rows = _dicts(rows)
    confusions = {key: found for key, found in (confusions or {}).items()
                  if found and key in {row.get("trial") for row in rows}}
    _write_frame(frame, folder, "results")
    _write_frame(summary_frame(rows), folder, "summary")
    write_text(folder / "histories.json", json.dumps(finite(histories), allow_nan=False) + "\n")
    write_text(folder / "confusion.json", json.dumps(confusions) + "\n")
    write_text(folder / "per_class.csv", per_class_frame(rows, confusions).to_csv(index=False))
    labels = curve_labels(rows)
    if any(histories.values()):
        plot_curves({labels.get(key, key): history for key, history in histories.items() if history},
                    folder / "curves.png")
    if (frame["status"] == "ok").any():
        plot_tradeoff(frame, folder / "tradeoff.png")
    ranked = read_rank(folder)  # zoo rank's scores, when the folder has them
    found = write_agreement(folder, ranked, rows)  # how well they ranked the fine-tuned backbones
    write_report(folder, rows, confusions, command, ranked, found)


def per_class_frame(rows: list[dict], confusions: dict) -> pd.DataFrame:
    """One row per trial and class: test images of the class, those predicted right, accuracy."""
    records = []
    for row in rows:
        found = confusions.get(row.get("trial"))
        if not found:
            continue
        for index, (name, counts) in enumerate(zip(found["classes"], found["matrix"])):
            total = sum(counts)
            records.append({"trial": row["trial"], "backbone": row["backbone"], "dataset": row["dataset"],
                            "seed": row["seed"], "class": name, "images": total, "correct": counts[index],
                            "accuracy": counts[index] / total if total else None})
    return pd.DataFrame(records, columns=["trial", "backbone", "dataset", "seed", "class", "images", "correct",
                                          "accuracy"])


def curve_labels(rows: list[dict]) -> dict[str, str]:
    """Trial key -> its name on the plots (zoo.trials.trial_labels decides)."""
    return trial_labels((r["trial"], r["backbone"], r["dataset"], r["seed"]) for r in rows if r.get("trial"))


def _save(fig, path: Path) -> None:
    try:
        with atomic_path(path) as partial:
            fig.savefig(partial, dpi=110)
    finally:
        plt.close(fig)


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
    _save(fig, path)


def pareto_front(cost, accuracy) -> list[int]:
    """Indices of the points no other point beats on both (lower cost and higher accuracy, or
    equal on one and better on the other), cheapest first."""
    points = list(zip(cost, accuracy))
    front = [i for i, (c, a) in enumerate(points)
             if not any(c2 <= c and a2 >= a and (c2, a2) != (c, a) for c2, a2 in points)]
    return sorted(front, key=lambda i: points[i][0])


def plot_tradeoff(frame: pd.DataFrame, path: Path) -> None:
    """Test accuracy (%) against training step time, as the table reads them: a point per
    trial sized by parameters, labelled inside the frame, and the Pareto front (nothing both
    cheaper and more accurate) drawn through the points on it."""
    ok = frame[(frame["status"] == "ok") & frame["train_step_ms"].notna() & frame["test_accuracy"].notna()]
    cost = ok["train_step_ms"].astype(float).tolist()
    accuracy = (ok["test_accuracy"].astype(float) * 100).tolist()
    params = ok["total_params"].astype(float).fillna(0).tolist()  # a row from an older zoo may lack it
    largest = max(params, default=1) or 1
    fig, ax = plt.subplots(figsize=(7, 4.8))
    ax.scatter(cost, accuracy, s=[40 + 400 * p / largest for p in params], alpha=0.6, edgecolor="black",
               label="trial (area: parameters)")
    front = pareto_front(cost, accuracy)
    if front:
        ax.plot([cost[i] for i in front], [accuracy[i] for i in front], "--", color="C3", drawstyle="steps-post",
                label="Pareto front")
    ax.margins(x=0.25, y=0.2)  # room for the labels inside the frame
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
    _save(fig, path)


def _num(value, fmt):
    return "-" if _empty(value) else format(value, fmt)


def _empty(value) -> bool:
    """None, NaN or pandas' NA: no value."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _input(row) -> str:
    """The size the backbone saw, and the data's own shape when zoo adapted it."""
    size = str(row["input_size"])
    native = row.get("data_shape")
    return size if not native or native == f"{size}x{size}x3" else f"{size} (from {native})"


def _trainable(row) -> str:
    """Trainable parameters; with two-stage fine-tuning, stage one's, then stage two's."""
    first = _num(row["trainable_params"], ",")
    second = row.get("finetune_trainable_params")
    if _empty(second):
        return first
    return f"{first} then {_num(int(second), ',')}"


def _spread(mean, std, low, high, fmt, scale=1.0) -> str:
    if _empty(mean):
        return "-"
    text = format(mean * scale, fmt)
    if not _empty(std):
        text += f" ± {format(std * scale, fmt)} ({format(low * scale, fmt)}-{format(high * scale, fmt)})"
    return text


def summary_table(rows: list[dict], title: str = "zoo compare: mean ± standard deviation (min-max) over seeds",
                  note: str = ""):
    """The grid summarised per backbone and dataset (and options, where they differ); trials
    that failed are counted apart."""
    rows = _dicts(rows)
    labelled = _with_options(rows)
    summary = _summarise(labelled)
    failures = pd.DataFrame([r for r in labelled if r.get("status") != "ok"], columns=[*SUMMARY_KEYS, "error"])
    show_options = bool(summary["options"].any() or failures["options"].any())
    table = Table(title=title, caption=_caption(rows) + (f"\n{note}" if note else ""))
    for column in ("backbone", "dataset", "options", "n", "test acc (%)", "train ms/step", "fit s", "failed"):
        if column != "options" or show_options:
            table.add_column(column, justify="left" if column in ("backbone", "dataset", "options") else "right")
    failed_counts = failures.groupby(SUMMARY_KEYS, sort=False).size()
    for row in summary.to_dict("records"):
        n_failed = int(failed_counts.get(tuple(row[k] for k in SUMMARY_KEYS), 0))
        table.add_row(row["backbone"], row["dataset"], *([row["options"]] if show_options else []), str(row["n"]),
                      _spread(*(row[f"test_accuracy_{s}"] for s in ("mean", "std", "min", "max")), ".1f", 100),
                      _spread(*(row[f"train_step_ms_{s}"] for s in ("mean", "std", "min", "max")), ".1f"),
                      _num(row["fit_seconds_mean"], ".1f"), str(n_failed) if n_failed else "-")
    finished = set(summary[SUMMARY_KEYS].itertuples(index=False, name=None))
    for backbone, dataset, options, error in failures[[*SUMMARY_KEYS, "error"]].itertuples(index=False, name=None):
        if (backbone, dataset, options) not in finished:
            finished.add((backbone, dataset, options))  # one line for each, with its first error
            table.add_row(backbone, dataset, *([options] if show_options else []), "0",
                          f"[red]failed: {escape(str(error))}[/]")
    return table


def _recipe(row) -> str:
    stage_two = f" + {row['finetune_epochs']} fine-tuning" if row.get("finetune_epochs") else ""
    return (f"weights {row.get('weights', '')}, head {row.get('head', '')}, {row.get('optimizer', '')} "
            f"lr {row.get('lr', '')}, {row.get('epochs', '')}{stage_two} epochs, batch {row.get('batch_size', '')}")


def _caption(rows: list[dict]) -> str:
    """Data, recipe and machine. A grid names every dataset, each with its note (a synthetic one
    says so) and, where trials ran under different settings, each dataset's recipes."""
    if not rows:
        return "no trial finished"
    ok = [row for row in rows if row.get("status") == "ok"] or rows  # failed rows lack some fields
    first = ok[0]
    note = "".join(f"{text} | " for text in dict.fromkeys(filter(None, (row.get("data_note") for row in rows))))
    pairs = dict.fromkeys((row.get("dataset", ""), _recipe(row)) for row in ok)
    recipes = {recipe for _, recipe in pairs}
    if len(recipes) == 1:
        data = f"{', '.join(dict.fromkeys(dataset for dataset, _ in pairs))}, {recipes.pop()}"
    else:
        data = "; ".join(f"{dataset}: {recipe}" for dataset, recipe in pairs)
    return (f"{note}{data} | device: {first.get('device', '?')} | Keras {first.get('keras_version', '?')}, "
            f"backend {first.get('backend', '?')}")


def results_table(rows: list[dict], title: str = "zoo compare", note: str = "") -> Table:
    """The comparison as a rich table, best test accuracy first; failed backbones show their error."""
    rows = _dicts(rows)
    records = results_frame(rows).to_dict("records")
    options = option_labels(records)
    show_options = any(options)  # a resumed folder holding runs under other options
    table = Table(title=title, caption=_caption(rows) + (f"\n{note}" if note else ""))
    table.add_column("backbone")
    if show_options:
        table.add_column("options")
    for column in ("input", "test acc", "best val acc", "params", "trainable", "non-trainable",
                   "train ms/step", "infer img/s", "fit s"):
        table.add_column(column, justify="right")
    table.add_column("feature cache")
    for row, label in zip(records, options):
        first = [row["backbone"], *([label] if show_options else [])]
        if row["status"] != "ok":
            table.add_row(*first, f"[red]failed: {escape(str(row['error']))}[/]")
            continue
        table.add_row(*first, _input(row), _num(row["test_accuracy"], ".2%"),
                      _num(row["best_val_accuracy"], ".2%"), _num(row["total_params"], ","),
                      _trainable(row), _num(row["non_trainable_params"], ","),
                      _num(row["train_step_ms"], ".1f"), _num(row["infer_images_per_s"], ",.0f"),
                      _num(row["fit_seconds"], ".1f"), row["feature_cache"])
    return table
