"""Results as a person reads them: the frames (results, summary over seeds, per class) and the
rich tables of compare and rank."""

from __future__ import annotations

import json

import pandas as pd
from rich.markup import escape
from rich.table import Table

from ..core.formatting import is_empty, num
from ..core.rows import Status, TrialRow, frame
from ..scores.stats import t_interval
from ..training.trials import PREDICTION_COLUMNS, trial_labels


def results_frame(rows) -> pd.DataFrame:
    """The rows (``TrialRow`` or dicts) as a DataFrame of typed columns, best test accuracy on top."""
    return frame(rows).sort_values("test_accuracy", ascending=False, na_position="last", kind="stable")


def predictions_frame(predictions: dict[str, dict]) -> pd.DataFrame:
    """Every trial's test predictions in one frame: ``trial`` (its key), then predictions.csv's
    columns (zoo.training.trials.PREDICTION_COLUMNS)."""
    frames = [pd.DataFrame(found, columns=PREDICTION_COLUMNS).assign(trial=key)
              for key, found in predictions.items() if found]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*PREDICTION_COLUMNS, "trial"])
    return frame[["trial", *PREDICTION_COLUMNS]]


def as_dicts(rows) -> list[dict]:
    """Rows (``TrialRow`` or dicts) as dicts."""
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
    n = 1), and the 95% t-interval of the mean test accuracy (``test_accuracy_ci_low/high``). ``options`` is "" unless trials of one dataset ran under different options."""
    return _summarise(_with_options(as_dicts(rows)))


def _summarise(labelled: list[dict]) -> pd.DataFrame:
    ok = [row for row in labelled if row.get("status") == Status.OK]
    frame = pd.DataFrame(ok, columns=[*SUMMARY_KEYS, *SUMMARISED])
    groups = frame.groupby(SUMMARY_KEYS, sort=False)
    stats = groups[list(SUMMARISED)].agg(["mean", "std", "min", "max"])
    stats.columns = [f"{column}_{stat}" for column, stat in stats.columns]
    stats.insert(0, "n", groups.size())
    # The mean's 95% t-interval over seeds (empty for one seed): where the mean of more seeds would fall.
    intervals = groups["test_accuracy"].agg(lambda values: t_interval(values.dropna()))
    stats["test_accuracy_ci_low"] = [low for low, _ in intervals]
    stats["test_accuracy_ci_high"] = [high for _, high in intervals]
    return stats.reset_index().sort_values("test_accuracy_mean", ascending=False, kind="stable")


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
    """Trial key -> its name on the plots (zoo.training.trials.trial_labels decides)."""
    return trial_labels((r["trial"], r["backbone"], r["dataset"], r["seed"]) for r in rows if r.get("trial"))


def _input(row) -> str:
    """The size the backbone saw, and the data's own shape when zoo adapted it."""
    size = str(row["input_size"])
    native = row.get("data_shape")
    return size if not native or native == f"{size}x{size}x3" else f"{size} (from {native})"


def _trainable(row) -> str:
    """Trainable parameters; with two-stage fine-tuning, stage one's, then stage two's."""
    first = num(row["trainable_params"], ",")
    second = row.get("finetune_trainable_params")
    if is_empty(second):
        return first
    return f"{first} then {num(int(second), ',')}"


def _spread(mean, std, low, high, fmt, scale=1.0, interval=None) -> str:
    if is_empty(mean):
        return "-"
    text = format(mean * scale, fmt)
    if not is_empty(std):
        text += f" ± {format(std * scale, fmt)} ({format(low * scale, fmt)}-{format(high * scale, fmt)})"
    if interval is not None and not is_empty(interval[0]):
        text += f" [{format(interval[0] * scale, fmt)}-{format(interval[1] * scale, fmt)}]"
    return text


def accuracy_with_interval(row) -> str:
    """``53.50% (50.4-56.6)``: the test accuracy and its 95% Wilson interval over the test images."""
    text = num(row.get("test_accuracy"), ".2%", "")
    low, high = row.get("test_accuracy_low"), row.get("test_accuracy_high")
    return text if is_empty(low) or is_empty(high) else f"{text} ({low:.1%}-{high:.1%})".replace("%-", "-", 1)


def versus_best(row) -> str:
    """How a row stands against the best of its dataset and seed: ``best``, ``tied (p 0.41)`` or
    ``worse (p 0.003)`` (exact McNemar, Holm-corrected); "" where it was not tested."""
    tied, p = row.get("tied_with_best"), row.get("p_vs_best")
    if is_empty(tied):
        return ""
    if is_empty(p):
        return "best"
    return f"{'tied' if tied else 'worse'} (p {p:.2g})"


def verdict(rows: list[dict]) -> str:
    """What the table must not hide: per dataset and seed, the backbones tied with the best (no
    single winner), and any backbone no better than always predicting the largest class."""
    lines, groups = [], {}
    for row, label in zip(rows, option_labels(rows)):  # the groups zoo.results.significance tested within
        if row.get("status") == Status.OK and row.get("tied_with_best") is True:
            groups.setdefault((row["dataset"], row["seed"], label), []).append(row)
    several = len({seed for _, seed, _ in groups}) > 1
    for (dataset, seed, label), tied in groups.items():
        if len(tied) > 1:
            names = ", ".join(r["backbone"] for r in sorted(tied, key=lambda r: -(r.get("test_accuracy") or 0)))
            where = f"{dataset}{f' seed {seed}' if several else ''}{f' ({label})' if label else ''}"
            lines.append(f"No single winner on {where}: {names} are tied (none is significantly worse than the "
                         "best on the same test images: exact McNemar, Holm-corrected, 5%).")
    for row in rows:
        majority, accuracy = row.get("majority_accuracy"), row.get("test_accuracy")
        if row.get("status") == Status.OK and not is_empty(majority) and not is_empty(accuracy) \
                and accuracy <= majority + 1e-6 and majority < 1:  # a test split of one class: nothing to beat
            lines.append(f"Warning: {row['backbone']} ({row['dataset']}) does no better than always predicting the "
                         f"largest class ({majority:.1%}); its balanced accuracy is "
                         f"{num(row.get('balanced_accuracy'), '.1%')}.")
    return "\n".join(lines)


def summary_table(rows: list[dict], title: str = "zoo compare: mean ± standard deviation (min-max) [95% t-interval of "
                  "the mean] over seeds",
                  note: str = ""):
    """The grid summarised per backbone and dataset (and options, where they differ); trials
    that failed are counted apart."""
    rows = as_dicts(rows)
    labelled = _with_options(rows)
    summary = _summarise(labelled)
    failures = pd.DataFrame([r for r in labelled if r.get("status") != Status.OK], columns=[*SUMMARY_KEYS, "error"])
    show_options = bool(summary["options"].any() or failures["options"].any())
    table = Table(title=title, caption=escape(caption(rows) + (f"\n{note}" if note else "")))
    for column in ("backbone", "dataset", "options", "n", "test acc (%)", "train ms/step", "fit s", "failed"):
        if column != "options" or show_options:
            table.add_column(column, justify="left" if column in ("backbone", "dataset", "options") else "right")
    if len(failures):
        table.add_column("error", overflow="fold", ratio=1, min_width=24)
    no_error = [""] if len(failures) else []
    failed_counts = failures.groupby(SUMMARY_KEYS, sort=False).size()
    for row in summary.to_dict("records"):
        n_failed = int(failed_counts.get(tuple(row[k] for k in SUMMARY_KEYS), 0))
        table.add_row(escape(row["backbone"]), escape(row["dataset"]), *([escape(row["options"])] if show_options else []),
                      str(row["n"]),
                      _spread(*(row[f"test_accuracy_{s}"] for s in ("mean", "std", "min", "max")), ".1f", 100,
                              (row["test_accuracy_ci_low"], row["test_accuracy_ci_high"])),
                      _spread(*(row[f"train_step_ms_{s}"] for s in ("mean", "std", "min", "max")), ".1f"),
                      num(row["fit_seconds_mean"], ".1f"), str(n_failed) if n_failed else "-", *no_error)
    finished = set(summary[SUMMARY_KEYS].itertuples(index=False, name=None))
    for backbone, dataset, options, error in failures[[*SUMMARY_KEYS, "error"]].itertuples(index=False, name=None):
        if (backbone, dataset, options) not in finished:
            finished.add((backbone, dataset, options))  # one line for each, with its first error
            table.add_row(escape(backbone), escape(dataset), *([escape(options)] if show_options else []), "0", "-", "-", "-",
                          str(int(failed_counts.get((backbone, dataset, options), 0))),
                          f"[red]failed: {escape(str(error))}[/]")
    return table


def _recipe(row) -> str:
    """The protocol in words: what the caption says of a dataset's trials."""
    try:
        given = json.loads(row["recipe"]) if isinstance(row.get("recipe"), str) else {}
    except ValueError:
        given = {}
    if given.get("protocol") == "linear-probe":
        return (f"weights {row.get('weights', '')}, linear probe (logistic regression on pooled frozen features, "
                "C chosen per backbone on validation)")
    stage_two = f" + {row['finetune_epochs']} fine-tuning" if row.get("finetune_epochs") else ""
    lr = f"lr {row.get('lr', '')}"
    lists = {name: given[name] for name in ("lr", "dropout") if isinstance(given.get(name), list)}
    if given.get("tune"):
        lr = f"lr and dropout chosen per backbone on validation from {given['tune']} Optuna (TPE) candidates"
    elif lists:
        lr = " and ".join(f"{name} chosen per backbone on validation from {', '.join(f'{v:g}' for v in values)}"
                          for name, values in lists.items())
    return (f"weights {row.get('weights', '')}, head {row.get('head', '')}, {row.get('optimizer', '')} "
            f"{lr}, {row.get('epochs', '')}{stage_two} epochs, batch {row.get('batch_size', '')}")


def caption(rows: list[dict]) -> str:
    """Data, recipe and machine. A grid names every dataset, each with its note (a synthetic one
    says so) and, where trials ran under different settings, each dataset's recipes."""
    if not rows:
        return "no trial finished"
    ok = [row for row in rows if row.get("status") == Status.OK] or rows  # failed rows lack some fields
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


def timing_note(rows: list[dict]) -> str:
    """Where the step times came from, when not all were measured in this run on a quiet machine:
    ``step times: 2 reused from the feature store (measured 2026-11-30T09:10:02); ...``."""
    said = [row.get("step_timing") for row in rows if row.get("status") == Status.OK]
    reused = [row for row in rows if str(row.get("step_timing")).startswith("reused")]
    parts = []
    if reused:
        when = ", ".join(sorted({str(row.get("timed_at")) for row in reused if row.get("timed_at")}))
        parts.append(f"{len(reused)} reused from the feature store" + (f" (measured {when})" if when else "")
                     + "; --retime measures them again")
    shared = sum("shared load" in str(how) for how in said)
    if shared:
        parts.append(f"{shared} measured while other trials ran beside them")
    return f"step times: {'; '.join(parts)}" if parts else ""


def results_table(rows: list[dict], title: str = "zoo compare", note: str = "") -> Table:
    """The comparison as a rich table, best test accuracy first; failed backbones show their error."""
    rows = as_dicts(rows)
    records = results_frame(rows).to_dict("records")
    options = option_labels(records)
    show_options = any(options)  # a resumed folder holding runs under other options
    notes = "\n".join(filter(None, (verdict(records), timing_note(rows), note)))
    table = Table(title=title, caption=escape(caption(rows) + (f"\n{notes}" if notes else "")))
    ok = [row for row in records if row["status"] == Status.OK]
    extra = {  # columns shown only where they say something
        "vs best": any(not is_empty(row.get("tied_with_best")) for row in ok) and len(ok) > 1,
        "bal acc": any(not is_empty(row.get("balanced_accuracy"))
                       and abs(row["balanced_accuracy"] - row["test_accuracy"]) >= 0.005 for row in ok),
        "lr": len({row.get("lr") for row in ok}) > 1 or len({row.get("dropout") for row in ok}) > 1,
        "C": any(not is_empty(row.get("C")) for row in ok)}
    table.add_column("backbone")
    if show_options:
        table.add_column("options")
    columns = ["input", "test acc (95% CI)", *[c for c in ("vs best", "bal acc", "lr", "C") if extra[c]],
               "best val acc", "params", "trainable", "non-trainable", "train ms/step", "infer img/s", "fit s"]
    for column in columns:
        table.add_column({"lr": "lr / dropout"}.get(column, column), justify="right")
    table.add_column("feature cache")
    show_errors = any(row.get("error") for row in records)
    if show_errors:  # a column of its own, wrapped: an error never widens or shifts the figures
        table.add_column("error", overflow="fold", ratio=1, min_width=24)
    for row, label in zip(records, options):
        first = [escape(row["backbone"]), *([escape(label)] if show_options else [])]
        error = [_error(row)] if show_errors else []
        if row["status"] != Status.OK:
            table.add_row(*first, *["-"] * (len(columns) + 1), *error)
            continue
        shown = {"vs best": versus_best(row), "bal acc": num(row.get("balanced_accuracy"), ".1%"),
                 "lr": f"{num(row.get('lr'), 'g')} / {num(row.get('dropout'), 'g')}" if not is_empty(row.get("lr")) else "-",
                 "C": num(row.get("C"), ".3g")}
        table.add_row(*first, _input(row), accuracy_with_interval(row),
                      *[shown[c] for c in ("vs best", "bal acc", "lr", "C") if extra[c]],
                      num(row["best_val_accuracy"], ".2%"), num(row["total_params"], ","),
                      _trainable(row), num(row["non_trainable_params"], ","),
                      num(row["train_step_ms"], ".1f"), num(row["infer_images_per_s"], ",.0f"),
                      num(row["fit_seconds"], ".1f"), escape(str(row["feature_cache"])), *error)
    return table


def _error(row) -> str:
    """A row's error as a table shows it: red for a failed trial; a finished one's (its model
    was not kept, say) plain."""
    error = row.get("error")
    if not error or is_empty(error):
        return ""
    return f"[red]failed: {escape(str(error))}[/]" if row.get("status") != Status.OK else escape(str(error))


def features_said(store: str | None, cache: str | None = None) -> str:
    """Where a trial's frozen features came from, in words: ``read from store``, ``computed`` (and
    stored), or, without the store, computed (or ``not cached``, under --no-cache)."""
    if store in ("hit", "miss"):
        return "read from store" if store == "hit" else "computed"
    return "not cached" if cache and str(cache).startswith("off") else "computed"


def rank_table(rows, note: str = "") -> Table:
    """The ranking as a rich table, best LogME first; failed backbones show their error."""
    ok = [r for r in rows if r.status == Status.OK]
    first = ok[0] if ok else None
    said = (f"{', '.join(dict.fromkeys(r.dataset for r in rows))}, weights {first.weights}, pooled features "
            f"of the training split (k-NN and the linear probe: on the validation split) | device: {first.device} | Keras "
            f"{first.keras_version}, backend {first.backend}") if first else "no backbone was ranked"
    table = Table(title="zoo rank: frozen features scored, nothing trained",
                  caption=escape(said + (f"\n{note}" if note else "")))
    for column in ("backbone", "dataset", "LogME", "k-NN acc", "linear probe", "feature dim", "pooling", "input",
                   "extract s", "score s", "features"):
        table.add_column(column, justify="left" if column in ("backbone", "dataset", "pooling", "features") else "right")
    for row in rows:
        if row.status != Status.OK:
            table.add_row(escape(row.backbone), escape(row.dataset), f"[red]failed: {escape(str(row.error))}[/]")
            continue
        table.add_row(escape(row.backbone), escape(row.dataset), num(row.logme, ".3f"), num(row.knn_accuracy, ".1%"),
                      num(row.linear_probe, ".1%"), num(row.feature_dim, ","), escape(str(row.pooling)), num(row.input_size, "d"),
                      num(row.extract_seconds, ".1f"),
                      num(row.score_seconds, ".2f"), features_said(row.feature_store))
    return table
