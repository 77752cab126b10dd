"""``zoo bench --backends a,b``: the same bench once per Keras backend, side by side.

Keras picks its backend once per process, at import, so each backend runs in its own
``python -m zoo bench --json`` subprocess with ``KERAS_BACKEND`` set; this module reads
the rows it prints. A backend that is not installed, or whose run crashed, gives failed
rows with a one-line reason instead of stopping the others.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

from .settings import BACKENDS, Settings, failed_row, is_failed, mode_names


def _subprocess_args(names, settings: Settings, mode: str, plugin_specs) -> list[str]:
    args = [sys.executable, "-m", "zoo"]
    for spec in plugin_specs:
        args += ["--plugin", spec]
    args += ["bench", *names, "--json", "--mode", mode, "--batch-size", str(settings.batch_size),
             "--steps", str(settings.steps), "--warmup", str(settings.warmup),
             "--precision", settings.precision, "--freeze", settings.freeze]
    if settings.input_size:
        args += ["--input-size", str(settings.input_size)]
    if settings.jit is not None:
        args.append("--jit" if settings.jit else "--no-jit")
    return args


def _last_error_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:") or "Error" in line.split(":")[0]]
    return (errors or lines or ["no output"])[-1]


def run_backends(backends, cards, settings: Settings, mode: str, plugin_specs=(),
                 progress=None) -> list[dict]:
    """The same bench once per Keras backend, each in its own subprocess; rows of them all."""
    rows = []
    for name in backends:
        def failed(reason):
            return [failed_row(card.name, m, settings, settings.input_size or card.min_input_size,
                               reason, backend=name)
                    for card in cards for m in mode_names(mode, settings.freeze)]

        package = BACKENDS[name]
        if importlib.util.find_spec(package) is None:
            rows += failed(f"{package} is not installed (pip install {package})")
            continue
        if progress:
            progress(f"backend {name}: running in a subprocess")
        env = {**os.environ, "KERAS_BACKEND": name}
        args = _subprocess_args([card.name for card in cards], settings, mode, plugin_specs)
        result = subprocess.run(args, capture_output=True, text=True, env=env)
        try:
            found = json.loads(result.stdout)
            if not isinstance(found, list):
                raise ValueError("not a list of rows")
        except ValueError:
            reason = _last_error_line(result.stderr or result.stdout)
            rows += failed(f"zoo bench exited {result.returncode} under KERAS_BACKEND={name}: {reason}")
            continue
        if progress:
            progress(f"backend {name}: {len(found)} rows, {sum(map(is_failed, found))} failed")
        rows += found
    return rows
