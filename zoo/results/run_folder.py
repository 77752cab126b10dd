"""The run folder's files: what compare and rank write after every trial, and what ``--resume``
reads back. Each file is written whole or not at all (zoo.core.files); one that cannot be written
raises ``zoo.core.files.WriteError``.

- results.json/.csv, summary.json/.csv, histories.json, confusion.json, per_class.csv,
  curves.png, tradeoff.png and report.html (``write_results``);
- rank.json/.csv (``write_rank``), and agreement.json wherever both kinds of rows meet;
- skipped_images.csv, the files of a folder that are not readable images (``write_skipped``);
- TRIAL/predictions.csv, each trial's test predictions (``write_predictions``), and tuning.csv,
  every candidate's validation accuracy where --lr/--dropout lists or --tune gave several.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import fields
from pathlib import Path

import pandas as pd

from ..core.files import finite, write_text
from ..core.rows import RankRow, Status, TrialRow, best_first
from ..errors import BadInput
from ..training.trials import PREDICTION_COLUMNS, trial_slug
from ..training.tuning import TUNING_COLUMNS
from .agreement import agreement
from .html_report import write_report
from .plots import plot_curves, plot_tradeoff
from .report import as_dicts, curve_labels, per_class_frame, results_frame, summary_frame


def _write_frame(frame: pd.DataFrame, folder: Path, stem: str) -> None:
    records = json.loads(frame.to_json(orient="records", double_precision=15))  # NaN -> null
    write_text(folder / f"{stem}.json", json.dumps(records, indent=2) + "\n")
    write_text(folder / f"{stem}.csv", frame.to_csv(index=False))


def write_results(rows, histories: dict[str, dict], folder: Path, confusions: dict | None = None,
                  command: str = "", tuning: dict | None = None, predictions: dict | None = None,
                  images=None) -> None:
    """results.json/.csv (one row per trial), summary.json/.csv (over seeds), histories.json
    (per-epoch curves by trial key, for --resume), confusion.json and per_class.csv (on the
    test split), tuning.csv (``tuning``: candidates by trial key), curves.png, tradeoff.png, agreement.json (with rank scores in the folder) and
    report.html in ``folder`` (rewritten each time, each file whole or not at all). The plots
    are drawn once there is something to draw. A file that cannot be written raises
    ``zoo.core.files.WriteError``."""
    frame = results_frame(rows)  # TrialRows go straight into the frame; dicts are typed on the way
    rows = as_dicts(rows)
    confusions = {key: found for key, found in (confusions or {}).items()
                  if found and key in {row.get("trial") for row in rows}}
    _write_frame(frame, folder, "results")
    _write_frame(summary_frame(rows), folder, "summary")
    write_text(folder / "histories.json", json.dumps(finite(histories), allow_nan=False) + "\n")
    write_text(folder / "confusion.json", json.dumps(confusions) + "\n")
    write_text(folder / "per_class.csv", per_class_frame(rows, confusions).to_csv(index=False))
    write_tuning(folder, tuning or {})
    labels = curve_labels(rows)
    if any(histories.values()):
        plot_curves({labels.get(key, key): history for key, history in histories.items() if history},
                    folder / "curves.png")
    if (frame["status"] == Status.OK).any():
        plot_tradeoff(frame, folder / "tradeoff.png")
    ranked = read_rank(folder)  # zoo rank's scores, when the folder has them
    found = write_agreement(folder, ranked, rows)  # how well they ranked the fine-tuned backbones
    write_report(folder, rows, confusions, command, ranked, found, predictions or {}, images)


def predictions_path(folder: Path, row) -> Path:
    """Where a trial's predictions.csv goes: its own folder, ``TRIAL/`` under the run's."""
    return Path(folder) / trial_slug(row.backbone, row.dataset, row.seed) / "predictions.csv"


def write_predictions(folder: Path, row, predictions: dict) -> None:
    """``TRIAL/predictions.csv`` (PREDICTION_COLUMNS) of one finished trial's test predictions."""
    path = predictions_path(folder, row)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, pd.DataFrame(predictions, columns=PREDICTION_COLUMNS).to_csv(index=False))


def read_predictions(folder: Path, rows) -> dict[str, dict]:
    """The predictions an earlier run left for ``rows`` (by trial key), as ``write_predictions``
    wrote them; a row whose file is missing or not zoo's has none."""
    found = {}
    for row in rows:
        try:
            frame = pd.read_csv(predictions_path(folder, row), keep_default_na=False, dtype={"label": str, "predicted": str})
            found[row.trial] = {column: frame[column].tolist() for column in PREDICTION_COLUMNS}
        except (OSError, ValueError, KeyError):
            continue
    return found


def write_tuning(folder: Path, tuning: dict[str, list]) -> None:
    """tuning.csv: every candidate each tuned trial tried (TUNING_COLUMNS), when any was tuned."""
    records = [candidate for tried in tuning.values() for candidate in tried]
    if records:
        write_text(Path(folder) / "tuning.csv", pd.DataFrame(records, columns=TUNING_COLUMNS).to_csv(index=False))
    else:  # the tuned trials were run again untuned: no candidates stand
        (Path(folder) / "tuning.csv").unlink(missing_ok=True)


def read_tuning(folder: Path) -> dict[str, list]:
    """tuning.csv's candidates by trial key (none when there is no such file, or it is not zoo's)."""
    try:
        frame = pd.read_csv(Path(folder) / "tuning.csv")
        records = frame[TUNING_COLUMNS].to_dict("records")
    except (OSError, ValueError, KeyError):
        return {}
    found: dict[str, list] = {}
    for record in records:
        found.setdefault(f"{record['backbone']}|{record['dataset']}|seed {record['seed']}", []).append(record)
    return found


def read_rank(folder: Path) -> list[RankRow]:
    """The rank rows in ``folder``/rank.json (none when there is none, or it is not zoo's)."""
    path = Path(folder) / "rank.json"
    try:
        return [RankRow.from_dict(row) for row in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError, AttributeError):
        return []  # none yet, or not zoo's: the next write replaces it


def write_skipped(data: dict, folder: Path) -> None:
    """skipped_images.csv in ``folder``: each file of a folder dataset that is not a readable image
    (columns dataset, path, why), when there are any."""
    skipped = [(text, path, why) for text, found in data.items() for path, why in getattr(found, "skipped", ())]
    if skipped:
        write_text(Path(folder) / "skipped_images.csv",
                   pd.DataFrame(skipped, columns=["dataset", "path", "why"]).to_csv(index=False))


def write_rank(rows: list[RankRow], folder: Path) -> list[RankRow]:
    """rank.json and rank.csv in ``folder``: these rows, and the earlier ones of other backbones or
    datasets (a row for the same backbone and dataset is replaced); then agreement.json."""
    mine = {(r.backbone, r.dataset) for r in rows}
    merged = best_first([r for r in read_rank(folder) if (r.backbone, r.dataset) not in mine] + list(rows))
    records = finite([r.to_dict() for r in merged])
    write_text(Path(folder) / "rank.json", json.dumps(records, indent=2, allow_nan=False) + "\n")
    write_text(Path(folder) / "rank.csv",
               pd.DataFrame(records, columns=[f.name for f in fields(RankRow)]).to_csv(index=False))
    write_agreement(folder, rank_rows=merged)
    return merged


def folder_agreement(folder: Path, rank_rows=None, result_rows=None) -> list[dict]:
    """``zoo.results.agreement.agreement`` of the rank and result rows given, or else read from ``folder``."""
    folder = Path(folder)
    rank_rows = read_rank(folder) if rank_rows is None else rank_rows
    if result_rows is None:
        try:
            result_rows = json.loads((folder / "results.json").read_text())
        except (OSError, ValueError):
            result_rows = []
    return agreement(rank_rows, [r if isinstance(r, dict) else r.to_dict() for r in result_rows])


def write_agreement(folder: Path, rank_rows=None, result_rows=None) -> list[dict]:
    """agreement.json (see ``folder_agreement``); returns what it holds."""
    found = folder_agreement(folder, rank_rows, result_rows)
    if found or (folder / "agreement.json").exists():
        write_text(folder / "agreement.json", json.dumps(finite(found), indent=2, allow_nan=False) + "\n")
    return found


def earlier_run(folder: Path) -> tuple[list[TrialRow], dict[str, dict]]:
    """The rows and learning curves an earlier run left in ``folder`` (none when it left nothing).
    Raises BadInput when its files are not what zoo writes."""
    fix = "move it away to run every trial again, or resume into another --output folder."

    def read(path, empty, shape):
        try:
            data = json.loads(path.read_text()) if path.is_file() else empty
        except json.JSONDecodeError as exc:
            raise BadInput(f"{path} is not valid JSON ({exc.msg}): {fix}") from None
        if not shape(data):
            raise BadInput(f"{path} is not what zoo writes (valid JSON of another shape): {fix}")
        return data

    rows = read(folder / "results.json", [], lambda d: isinstance(d, list) and all(
        isinstance(r, dict) and isinstance(r.get("backbone"), str) and isinstance(r.get("dataset"), str)
        for r in d))
    histories = read(folder / "histories.json", {}, lambda d: isinstance(d, dict) and all(
        isinstance(h, dict) for h in d.values()))
    earlier = []
    for data in rows:  # rows from a zoo before trials had keys were one-seed runs
        try:
            row = TrialRow.from_dict(data)
            json.loads(row.recipe) if row.recipe else None
        except (TypeError, ValueError) as exc:
            raise BadInput(f"{folder / 'results.json'} is not what zoo writes ({exc}): {fix}") from None
        row.seed = 0 if row.seed is None else row.seed
        row.trial = row.trial or f"{row.backbone}|{row.dataset}|seed {row.seed}"
        earlier.append(row)
    return earlier, histories


def read_confusions(folder: Path) -> dict:
    """The confusion matrices an earlier run left (none when it left none, or not zoo's)."""
    try:
        found = json.loads((folder / "confusion.json").read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def model_intact(path: Path) -> bool:
    """Whether a saved .keras model is a complete file (a zip whose directory, at its end, reads)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return bool(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
