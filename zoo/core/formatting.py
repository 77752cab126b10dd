"""How a number reads in a table: the one formatter every table and page of zoo uses."""

from __future__ import annotations

import math
import sys


def is_empty(value) -> bool:
    """None, NaN or pandas' NA: no value."""
    pandas = sys.modules.get("pandas")  # pandas' NA exists only once pandas is imported: `zoo list` never does
    return (value is None or (isinstance(value, float) and math.isnan(value))
            or (pandas is not None and value is pandas.NA))


def num(value, fmt: str, empty: str = "-") -> str:
    """``value`` formatted by ``fmt`` (``".2%"``, ``","``), or ``empty`` where there is none."""
    return empty if is_empty(value) else format(value, fmt)
