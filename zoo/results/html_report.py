"""report.html: one page a person opens from disk, no server, no script: the results, the
summary over seeds, the ranking and its tau, the plots, each trial's confusion matrix and
per-class accuracy, and the environment. Jinja2 renders zoo/results/templates/report.html; the
plots are the PNGs zoo.results.report draws, embedded so the page stands alone.
"""

from __future__ import annotations

import base64
import platform
from importlib.metadata import version
from pathlib import Path

from ..core.files import write_text
from ..core.formatting import is_empty, num
from ..core.rows import Status, best_first
from .agreement import agreement_caption
from .mistakes import confusion_differences, thumbnail, top_losses
from .report import accuracy_with_interval, caption, curve_labels, features_said, summary_frame, verdict, versus_best

RESULT_COLUMNS = ("backbone", "dataset", "seed", "status", "test acc (95% CI)", "vs best", "best val acc", "params",
                  "trainable", "train ms/step", "infer img/s", "fit s", "features", "model", "error")


def _result_cells(row: dict) -> list[str]:
    get = row.get  # a row from an older zoo may lack columns
    if get("status") != Status.OK:  # the figures empty, the error in its own column
        return [get("backbone"), get("dataset"), str(get("seed")), "failed", *[""] * (len(RESULT_COLUMNS) - 5),
                get("error") or ""]
    return [get("backbone"), get("dataset"), str(get("seed")), "ok", accuracy_with_interval(row), versus_best(row),
            num(get("best_val_accuracy"), ".2%", ""), num(get("total_params"), ",", ""), num(get("trainable_params"), ",", ""),
            num(get("train_step_ms"), ".1f", ""), num(get("infer_images_per_s"), ",.0f", ""), num(get("fit_seconds"), ".1f", ""),
            features_said(get("feature_store"), get("feature_cache")), get("model") or "not kept", get("error") or ""]


def _matrix(key: str, label: str, found: dict) -> dict:
    matrix = found["matrix"]
    rows = []
    for name, counts in zip(found["classes"], matrix):
        total = sum(counts)
        rows.append((name, counts, num(counts[len(rows)] / total if total else None, ".1%", "")))
    return {"trial": key, "label": label, "classes": found["classes"], "rows": rows,
            "total": sum(map(sum, matrix)), "peak": max(max(map(max, matrix), default=0), 1)}


def _interval(low, high) -> str:
    return "" if is_empty(low) else f"{num(low, '.1%', '')} to {num(high, '.1%', '')}"


def _embedded(path: Path) -> str | None:
    return base64.b64encode(path.read_bytes()).decode() if path.is_file() else None


def _environment(rows: list[dict], command: str) -> list[tuple[str, str]]:
    first = next((row for row in rows if row.get("status") == Status.OK), rows[0] if rows else {})
    return [("command", command or "(zoo.compare, the Python API)"), ("device", first.get("device") or ""),
            ("Keras backend", first.get("backend") or ""), ("Keras", first.get("keras_version") or ""),
            ("zoo", version("zoo")), ("Python", platform.python_version()), ("platform", platform.platform()),
            ("numpy", version("numpy"))]


def _best_two(rows: list[dict]) -> dict[str, list[dict]]:
    """Per dataset, its two most accurate finished trials of the first seed (one, or none)."""
    found: dict[str, list[dict]] = {}
    for row in rows:  # best first
        if row.get("status") == Status.OK and row.get("test_accuracy") is not None:
            chosen = found.setdefault(row["dataset"], [])
            if len(chosen) < 2 and (not chosen or chosen[0]["seed"] == row["seed"]):
                chosen.append(row)
    return found


def _mistakes(rows: list[dict], confusions: dict, predictions: dict, images) -> list[dict]:
    """Per dataset: the best trial's most confident mistakes (with thumbnails where the images are
    at hand, ``images``: dataset text -> its data), and the confusions that differ most between it
    and the second best."""
    sections = []
    for dataset, (best, *rest) in _best_two(rows).items():
        found = predictions.get(best.get("trial"))
        if not found:
            continue
        data = (images or {}).get(dataset)
        losses = [{**loss, "confidence": num(float(loss["confidence"]), ".1%", ""),
                   "image": None if data is None else thumbnail(data, int(loss["index"]))}
                  for loss in top_losses(found)]
        second = rest[0] if rest else None
        pairs = confusion_differences(confusions.get(best.get("trial")) or {"classes": [], "matrix": []},
                                      confusions.get(second.get("trial")) or {"classes": [], "matrix": []}) \
            if second else []
        sections.append({"dataset": dataset, "best": best["backbone"], "second": second and second["backbone"],
                         "losses": losses, "pairs": pairs})
    return sections


def write_report(folder: Path, rows: list[dict], confusions: dict, command: str = "", ranked=(),
                 agreement=(), predictions: dict | None = None, images=None) -> None:
    """``folder``/report.html from the rows (dicts), the confusion matrices by trial key, zoo
    rank's rows and their agreement with the rows (zoo.run.ranking), the plots already in ``folder``
    (curves.png, tradeoff.png), and each trial's test predictions by key (``predictions``) with
    the datasets' images (``images``: dataset text -> ImageData or ImageFiles) for the mistakes."""
    import jinja2

    labels = curve_labels(rows)
    width = len(RESULT_COLUMNS) - (not any(r.get("error") for r in rows))  # the error column, where there are any
    ordered = sorted(rows, key=lambda r: (r["status"] != Status.OK, -(r.get("test_accuracy") or 0)))
    summary = summary_frame(rows) if len({(r["dataset"], r["seed"]) for r in rows}) > 1 else None
    ranked = best_first(list(ranked))
    plots = [{"title": title, "data": data} for title, data in (
        ("Accuracy against cost", _embedded(folder / "tradeoff.png")),
        ("Learning curves", _embedded(folder / "curves.png"))) if data]
    env = jinja2.Environment(loader=jinja2.PackageLoader("zoo.results", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    page = env.get_template("report.html").render(
        title=", ".join(dict.fromkeys(r["dataset"] for r in rows)) or "no trials",
        caption=caption(rows), notes=verdict(rows) or None,
        result_columns=RESULT_COLUMNS[:width], text_columns={0, 1, 3, 5, 12, 13}, error_column=len(RESULT_COLUMNS) - 1,
        results=[{"status": r["status"], "trial": r.get("trial") or "", "cells": _result_cells(r)[:width]}
                 for r in ordered],
        summary_columns=["backbone", "dataset", "options", "n", "test acc mean", "95% t-interval", "test acc std",
                         "train ms mean"],
        summary=None if summary is None else [
            [s["backbone"], s["dataset"], s["options"], str(s["n"]), num(s["test_accuracy_mean"], ".2%", ""),
             _interval(s["test_accuracy_ci_low"], s["test_accuracy_ci_high"]),
             num(s["test_accuracy_std"], ".2%", ""), num(s["train_step_ms_mean"], ".1f", "")]
            for s in summary.to_dict("records")],
        ranking_columns=["backbone", "dataset", "LogME", "k-NN acc", "linear probe", "feature dim", "extract s",
                         "features"],
        ranking=[[r.backbone, r.dataset, num(r.logme, ".3f", ""), num(r.knn_accuracy, ".1%", ""),
                  num(r.linear_probe, ".1%", ""), num(r.feature_dim, ",", ""),
                  num(r.extract_seconds, ".1f", ""), features_said(r.feature_store)] for r in ranked if r.status == Status.OK],
        agreement=agreement_caption(list(agreement)),
        plots=plots,
        matrices=[_matrix(r["trial"], labels.get(r["trial"], r["backbone"]), confusions[r["trial"]])
                  for r in ordered if r["status"] == Status.OK and confusions.get(r.get("trial"))],
        mistakes=_mistakes(ordered, confusions, predictions or {}, images),
        environment=_environment(rows, command))
    write_text(folder / "report.html", page)
