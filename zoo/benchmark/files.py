"""Result files: writing ``zoo bench`` rows, and reading two files for their B/A ratios.

``load_results`` reads ``zoo bench --json``/``--output`` rows and pytest-benchmark's
``--benchmark-json`` files alike, so either can be compared with ``zoo bench compare``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..core.files import finite, write_text
from ..errors import BadInput, one_line
from .settings import ROW_KEYS, STATUS_KEYS, is_failed


def write_rows(rows, path: Path) -> None:
    """The rows in ``path`` (.csv or .json), whole or not at all (zoo.core.files)."""
    if path.suffix.lower() == ".csv":
        import pandas as pd  # here: `zoo --help` imports this module

        write_text(path, pd.DataFrame(rows, columns=[*ROW_KEYS, *STATUS_KEYS]).to_csv(index=False))
    else:
        write_text(path, json.dumps(finite(rows), indent=2, allow_nan=False) + "\n")


def load_results(path) -> dict[str, dict]:
    """Timings in a result file by benchmark name: ``{name: {"ms": median, "images_per_s": ...,
    "error": None, or why that row failed}}``.

    Reads pytest-benchmark's ``--benchmark-json`` files and ``zoo bench --json`` rows.
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise BadInput(f"cannot read benchmark results from {path}: {one_line(exc)}") from exc
    found = {}
    if isinstance(data, dict) and isinstance(data.get("benchmarks"), list):  # pytest-benchmark
        names = [bench.get("name") for bench in data["benchmarks"]]
        for bench in data["benchmarks"]:
            extra = bench.get("extra_info") or {}
            median = (bench.get("stats") or {}).get("median")
            name = bench.get("name")
            if not name or names.count(name) > 1:  # the same test name in two files: the full id
                name = bench.get("fullname", "?")
                if bench.get("param") and "[" not in name:
                    name += f"[{bench['param']}]"
            found[name] = {
                "ms": None if median is None else median * 1e3,
                "images_per_s": extra.get("images_per_s"), "error": None}
        return found
    if isinstance(data, list) and all(isinstance(r, dict) and "backbone" in r and "mode" in r for r in data):
        # Name rows by backbone and mode, plus whatever else tells rows of this file apart.
        varying = [key for key in ("backend", "precision", "batch_size", "input_size", "device")
                   if len({str(r.get(key)) for r in data}) > 1]
        for row in data:
            name = " ".join([row["backbone"], row["mode"], *(f"{k}={row.get(k)}" for k in varying)])
            found[name] = {"ms": row.get("step_ms_median"), "images_per_s": row.get("images_per_s"),
                           "error": (row.get("error") or "no reason given") if is_failed(row) else None}
        return found
    raise BadInput(f"{path} is neither pytest-benchmark JSON (--benchmark-json) nor zoo bench --json rows.")


def compare_rows(a: dict, b: dict) -> list[dict]:
    """Per-benchmark ratios B/A of two ``load_results`` dicts (ratio > 1: B is slower)."""
    rows = []
    for name in [*a, *[n for n in b if n not in a]]:
        ra, rb = a.get(name), b.get(name)
        error = ra and rb and (ra["error"] or rb["error"])
        ratio = rb["ms"] / ra["ms"] if ra and rb and ra["ms"] and rb["ms"] and not error else None
        rows.append({"name": name, "a_ms": ra and ra["ms"], "b_ms": rb and rb["ms"], "ratio": ratio,
                     "note": ("only in A" if rb is None else "only in B" if ra is None
                              else f"failed: {error}" if error else "")})
    return rows


def geometric_mean(ratios) -> float | None:
    """The mean of ratios that treats 2x faster and 2x slower alike; None for none."""
    ratios = [r for r in ratios if r]
    return math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else None
