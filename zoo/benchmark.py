"""``zoo bench``: training and inference throughput of registered backbones, without data.

Each backbone is assembled as ``zoo compare`` trains it (``zoo.model.assemble``:
preprocessing, backbone, the protocol's head), without weights, and timed on a
random batch with ``zoo.timing``. Rows are one per backbone per mode, with the
keys in ``ROW_KEYS``.

``--backends a,b`` runs the same bench once per Keras backend, each in its own
``python -m zoo bench --json`` subprocess with ``KERAS_BACKEND`` set, and shows
their rows side by side. ``--compare A.json B.json`` prints the ratios of two
result files (``zoo bench --json`` rows or pytest-benchmark's ``--benchmark-json``).
"""

from __future__ import annotations

import gc
import importlib.metadata
import importlib.util
import json
import math
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import backend, registry, timing
from .errors import BadInput
from .plugins import one_line

ROW_KEYS = ("backbone", "mode", "batch_size", "input_size", "precision", "step_ms_median",
            "step_ms_p10", "step_ms_p90", "images_per_s", "compile_s", "peak_host_mb",
            "peak_device_mb", "params", "device", "backend", "keras_version")
STATUS_KEYS = ("status", "error")  # "ok" and None, or "error" and a one-line reason

# The head ends in a 10-way softmax, as in ``zoo compare`` on CIFAR-10, so that the
# figures predict its step times. A 1000-way head would add 0.25M parameters
# (Dense 256 -> 1000): next to any of the backbones, a difference in the noise.
NUM_CLASSES = 10

MODES = ("train", "infer")
# The train row's mode under ``--freeze none``: every layer trains (full fine-tuning).
TRAIN_FULL = "train-full"
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}  # backend -> package

out = Console() if Console().is_terminal else Console(width=200)
err = Console(stderr=True)


@dataclass
class Settings:
    batch_size: int = 32
    input_size: int | None = None  # None: each card's min_input_size
    steps: int = timing.TIMED_STEPS
    warmup: int = timing.WARMUP_STEPS
    precision: str = "float32"
    jit: bool | None = None  # None: Keras's "auto"
    freeze: str = "recommended"
    jit_resolved: set = field(default_factory=set)  # what Keras made of jit, as models compile


# --- Memory --------------------------------------------------------------------------------------

class HostPeak:
    """Peak resident memory (MB) of this process between ``start()`` and ``stop()``.

    On Linux the kernel's own high-water mark (VmHWM) is reset through
    ``/proc/self/clear_refs``; elsewhere a thread samples the RSS every 5 ms.
    """

    def __init__(self):
        self._peak = 0.0
        self._stop = threading.Event()
        self._thread = None
        self._kernel = False

    @staticmethod
    def _vm_hwm_mb() -> float | None:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    @staticmethod
    def _rss_mb() -> float:
        import psutil

        return psutil.Process().memory_info().rss / 2**20

    def start(self) -> "HostPeak":
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self._kernel = self._vm_hwm_mb() is not None
        except OSError:
            self._kernel = False
        if not self._kernel:
            self._peak = self._rss_mb()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self._peak = max(self._peak, self._rss_mb())

    def stop(self) -> float:
        if self._kernel:
            return self._vm_hwm_mb() or 0.0
        self._stop.set()
        self._thread.join()
        return max(self._peak, self._rss_mb())


# --- Running one backend in this process -------------------------------------------------------

def backend_version(name: str | None = None) -> str | None:
    """The installed version of a Keras backend's package, without importing it."""
    name = name or backend.backend_name()
    try:
        return importlib.metadata.version(BACKENDS.get(name, name))
    except importlib.metadata.PackageNotFoundError:
        return None


def build_model(card, size: int, *, freeze: str = "recommended", jit: bool | None = None,
                num_classes: int = NUM_CLASSES):
    """The full image -> prediction model zoo trains, without weights, compiled for train steps."""
    import keras

    from .model import assemble

    model = assemble(card, (size, size, 3), num_classes, input_size=size, weights=None,
                     freeze=freeze, pooling="recommended", preprocess=True).model
    model.compile(optimizer=keras.optimizers.SGD(), loss="sparse_categorical_crossentropy",
                  jit_compile="auto" if jit is None else jit)
    return model


def _round(value, digits):
    return None if value is None else round(float(value), digits)


def _base_row(name: str, mode: str, batch_size: int, input_size, precision: str) -> dict:
    from .harness import environment

    row = dict.fromkeys(ROW_KEYS)
    row.update(backbone=name, mode=mode, batch_size=batch_size, input_size=input_size,
               precision=precision, **environment(), status="ok", error=None)
    return row


def error_row(name, mode, settings: Settings, input_size, error: str, **known) -> dict:
    """A row for a backbone that could not be timed: every figure None, and why."""
    row = dict.fromkeys((*ROW_KEYS, *STATUS_KEYS))
    row.update(backbone=name, mode=mode, batch_size=settings.batch_size, input_size=input_size,
               precision=settings.precision, **known, status="error", error=error)
    return row


def mode_names(mode: str, freeze: str) -> list[str]:
    """The row modes that ``--mode`` and ``--freeze`` ask for."""
    train = TRAIN_FULL if freeze == "none" else "train"
    return {"train": [train], "infer": ["infer"], "both": [train, "infer"]}[mode]


def _time_mode(model, mode: str, settings: Settings) -> dict:
    host = HostPeak().start()
    backend.reset_peak_device_memory()
    if mode == "infer":
        step = timing.time_infer_step(model, settings.batch_size, settings.steps, settings.warmup)
    else:
        step = timing.time_train_step(model, settings.batch_size, NUM_CLASSES, settings.steps,
                                      settings.warmup)
    return {"step_ms_median": _round(step.median_ms, 3), "step_ms_p10": _round(step.p10_ms, 3),
            "step_ms_p90": _round(step.p90_ms, 3), "images_per_s": _round(step.images_per_s, 2),
            "compile_s": _round(step.compile_s, 3), "peak_host_mb": _round(host.stop(), 1),
            "peak_device_mb": _round(backend.peak_device_memory_mb(), 1)}


def bench_backbone(card, settings: Settings, modes: list[str], progress=None) -> list[dict]:
    """One row per mode for ``card``; a failure becomes an error row and never raises."""
    import keras

    size = settings.input_size or card.min_input_size
    rows = []
    model = None
    try:
        if progress:
            progress(f"{card.name}: building at {size}x{size}")
        model = build_model(card, size, freeze=settings.freeze, jit=settings.jit)
        settings.jit_resolved.add(bool(model.jit_compile))
        params = int(model.count_params())
    except Exception as exc:
        if os.environ.get("ZOO_DEBUG"):
            import traceback

            traceback.print_exc()
        error = one_line(exc)
        rows = [{**_base_row(card.name, m, settings.batch_size, size, settings.precision),
                 "status": "error", "error": error} for m in modes]
    else:
        for mode in modes:
            row = _base_row(card.name, mode, settings.batch_size, size, settings.precision)
            row["params"] = params
            if progress:
                progress(f"{card.name}: {mode} steps (batch {settings.batch_size})")
            try:
                row.update(_time_mode(model, mode, settings))
            except Exception as exc:  # an OOM or a backend error: report it, time the rest
                if os.environ.get("ZOO_DEBUG"):
                    import traceback

                    traceback.print_exc()
                row.update(status="error", error=one_line(exc))
            rows.append(row)
    del model
    keras.utils.clear_session(free_memory=True)
    gc.collect()
    return rows


def resolved_jit(settings: Settings) -> str:
    asked = {None: "auto", True: "on", False: "off"}[settings.jit]
    if settings.jit is None and len(settings.jit_resolved) == 1:
        return f"auto ({'on' if next(iter(settings.jit_resolved)) else 'off'} here)"
    return asked


def run_bench(cards, settings: Settings, mode: str = "both", progress=None) -> list[dict]:
    """Every row for ``cards`` on the running Keras backend, under ``settings.precision``."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(settings.precision)
    try:
        rows = []
        for card in cards:
            rows += bench_backbone(card, settings, mode_names(mode, settings.freeze), progress)
        return rows
    finally:
        keras.config.set_dtype_policy(previous)


# --- Running several backends, one subprocess each ----------------------------------------------

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
            return [error_row(card.name, m, settings, settings.input_size or card.min_input_size,
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
            progress(f"backend {name}: {len(found)} rows, {sum(r.get('status') != 'ok' for r in found)} failed")
        rows += found
    return rows


# --- Output --------------------------------------------------------------------------------------

def write_rows(rows, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        import pandas as pd

        pd.DataFrame(rows, columns=[*ROW_KEYS, *STATUS_KEYS]).to_csv(path, index=False)
    else:
        path.write_text(json.dumps(rows, indent=2) + "\n")


def _fmt(value, spec=",.1f"):
    return "-" if value is None else format(value, spec)


def rows_table(rows, caption: str) -> Table:
    backends = sorted({row.get("backend") for row in rows if row.get("backend")})
    table = Table(title="zoo bench: step times on random data, no weights", caption=caption)
    columns = ["backbone", *(["backend"] if len(backends) > 1 else []), "mode", "batch", "input",
               "precision", "median ms", "p10-p90 ms", "images/s", "compile s", "host MB",
               "device MB", "params"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("backbone", "backend", "mode", "precision")
                         else "right")
    order = {m: i for i, m in enumerate(("train", TRAIN_FULL, "infer"))}
    rows = sorted(rows, key=lambda r: (r["backbone"], order.get(r["mode"], 9), r.get("backend") or ""))
    for row in rows:
        cells = [row["backbone"], *([row.get("backend") or "-"] if len(backends) > 1 else []),
                 row["mode"], str(row["batch_size"]), str(row["input_size"] or "-"),
                 row["precision"]]
        if row.get("status", "ok") != "ok":
            table.add_row(*map(escape, cells), "[red]failed[/]", *[""] * (len(columns) - len(cells) - 1))
            continue
        table.add_row(*map(escape, cells), _fmt(row["step_ms_median"]),
                      f"{_fmt(row['step_ms_p10'])}-{_fmt(row['step_ms_p90'])}",
                      _fmt(row["images_per_s"]), _fmt(row["compile_s"], ".2f"),
                      _fmt(row["peak_host_mb"], ",.0f"), _fmt(row["peak_device_mb"], ",.0f"),
                      _fmt(row["params"], ","))
    return table


def caption(rows, settings: Settings) -> str:
    import keras

    def values(key, default):
        return ", ".join(sorted({str(row[key]) for row in rows if row.get(key)})) or default

    backends = values("backend", backend.backend_name()).split(", ")
    versions = ", ".join(f"{name} {backend_version(name) or '(not installed)'}" for name in backends)
    return (f"{values('device', backend.device_name())} · Keras {values('keras_version', keras.__version__)}"
            f" · {versions}\n{settings.steps} timed steps after {max(settings.warmup, 1)} untimed ones, "
            f"the first of which compiles (compile s) · jit {resolved_jit(settings)} · train: "
            f"{settings.freeze} freeze · {NUM_CLASSES}-class head · host MB: the process's peak RSS")


# --- Comparing two result files -------------------------------------------------------------------

def load_results(path) -> dict[str, dict]:
    """Timings in a result file by benchmark name: ``{name: {"ms": median, "images_per_s": ...}}``.

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
                           "error": row.get("error") if row.get("status", "ok") != "ok" else None}
        return found
    raise BadInput(f"{path} is neither pytest-benchmark JSON (--benchmark-json) nor zoo bench --json rows.")


def compare_rows(a: dict, b: dict) -> list[dict]:
    """Per-benchmark ratios B/A of two ``load_results`` dicts (ratio > 1: B is slower)."""
    rows = []
    for name in [*a, *[n for n in b if n not in a]]:
        ra, rb = a.get(name), b.get(name)
        ratio = None
        if ra and rb and ra["ms"] and rb["ms"]:
            ratio = rb["ms"] / ra["ms"]
        rows.append({"name": name, "a_ms": ra and ra["ms"], "b_ms": rb and rb["ms"], "ratio": ratio,
                     "note": ("only in A" if rb is None else "only in B" if ra is None
                              else (ra["error"] or rb["error"] or "") and
                              f"error: {ra['error'] or rb['error']}")})
    return rows


def print_comparison(path_a, path_b, console: Console | None = None) -> list[dict]:
    """Print the ratios of two result files; it reports and never fails on timing."""
    console = console or out
    rows = compare_rows(load_results(path_a), load_results(path_b))
    table = Table(title=f"B / A step time: A = {path_a}, B = {path_b}",
                  caption="ratio < 1: B is faster; > 1: B is slower. Timings only; nothing fails on them.")
    for column in ("benchmark", "A median ms", "B median ms", "B/A", ""):
        table.add_column(column, justify="left" if column in ("benchmark", "") else "right")
    for row in rows:
        ratio = row["ratio"]
        verdict = row["note"] or ("" if ratio is None else "same" if abs(ratio - 1) < 0.005 else
                                  f"{1 / ratio:.2f}x faster" if ratio < 1 else f"{ratio:.2f}x slower")
        table.add_row(escape(row["name"]), _fmt(row["a_ms"], ",.2f"), _fmt(row["b_ms"], ",.2f"),
                      _fmt(ratio, ".3f"), verdict)
    console.print(table)
    ratios = [r["ratio"] for r in rows if r["ratio"]]
    if ratios:
        geomean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        console.print(f"{len(ratios)} benchmarks in both files; geometric mean of B/A: {geomean:.3f}")
    else:
        console.print("No benchmark is in both files with a timing.")
    return rows


# --- The command ---------------------------------------------------------------------------------

def _backends_option(ctx, param, value):
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if not names or unknown:
        raise click.BadParameter(f"{', '.join(unknown) or 'nothing given'}: choose among "
                                 f"{', '.join(BACKENDS)}, separated by commas.")
    return list(dict.fromkeys(names))


def _output_option(ctx, param, value):
    if value is not None and Path(value).suffix.lower() not in (".json", ".csv"):
        raise click.BadParameter("the file name must end in .json or .csv.")
    return value


@click.command("bench")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--all", "all_", is_flag=True, help="Every registered backbone.")
@click.option("--mode", type=click.Choice(["train", "infer", "both"]), default="both", show_default=True,
              help="Time training steps, inference steps or both.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--input-size", type=click.IntRange(min=1),
              help="Image side in pixels (default: each backbone's min input size; 224 compares "
                   "with the Keras applications table).")
@click.option("--steps", type=click.IntRange(min=1), default=timing.TIMED_STEPS, show_default=True,
              help="Timed steps per mode.")
@click.option("--warmup", type=click.IntRange(min=0), default=timing.WARMUP_STEPS, show_default=True,
              help="Untimed steps first; the first step (compilation) is never timed, even with 0.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="float32", show_default=True)
@click.option("--jit/--no-jit", default=None,
              help="Force XLA / torch.compile on or off (default: Keras's 'auto').")
@click.option("--freeze", type=click.Choice(["recommended", "none"]), default="recommended",
              show_default=True,
              help="Train steps with the card's recommended freeze, or with every layer trainable "
                   f"(rows with mode '{TRAIN_FULL}').")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON instead of the table.")
@click.option("--output", type=click.Path(dir_okay=False), callback=_output_option,
              help="Also write the rows to FILE (.json or .csv).")
@click.option("--backends", callback=_backends_option, metavar="A,B",
              help="Run the bench once per Keras backend (tensorflow, jax, torch), each in a subprocess.")
@click.option("--compare", nargs=2, type=click.Path(exists=True, dir_okay=False), metavar="A.json B.json",
              help="Only print the B/A ratios of two result files (zoo bench --json or "
                   "pytest-benchmark --benchmark-json); never fails on timing.")
@click.pass_context
def bench(ctx, names, all_, mode, batch_size, input_size, steps, warmup, precision, jit, freeze,
          as_json, output, backends, compare):
    """Train and inference step times of backbones NAME... (or --all), on random data.

    No dataset and no weights: each backbone is assembled as `zoo compare` trains
    it, with a 10-class head, and timed on a random batch. A backbone that fails is
    reported in its row and the others still run; the exit code is then 1.
    """
    if compare:
        print_comparison(*compare)
        return
    if all_ and names:
        raise click.UsageError("give backbone names or --all, not both.")
    if not all_ and not names:
        raise click.UsageError("give one or more backbone names, or --all (see `zoo list`).")
    cards = [registry.get_backbone(n) for n in (registry.list_backbones() if all_ else dict.fromkeys(names))]
    if input_size:  # every card before any work: a size too small for one is the user's to fix
        from .model import check_input_size

        for card in cards:
            check_input_size(card, input_size)
    settings = Settings(batch_size, input_size, steps, warmup, precision, jit, freeze)

    def progress(message):
        err.print(f"[dim]bench: {message}[/]", highlight=False)

    if backends:
        plugin_specs = (ctx.find_root().params.get("extra_plugins") or ()) if ctx.parent else ()
        rows = run_backends(backends, cards, settings, mode, plugin_specs, progress)
    else:
        rows = run_bench(cards, settings, mode, None if as_json else progress)
    if output:
        write_rows(rows, Path(output))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        out.print(rows_table(rows, caption(rows, settings)))
        if output:
            err.print(f"Rows written to {output}", highlight=False)
    failed = [row for row in rows if row.get("status") != "ok"]
    if failed:
        if not as_json:
            err.print(f"[red]{len(failed)} of {len(rows)} rows failed:[/]", highlight=False)
            for row in failed:
                where = " ".join(filter(None, [row["backbone"], row.get("backend"), row["mode"]]))
                err.print(f"  {escape(where)}: {escape(str(row.get('error')))}", highlight=False, soft_wrap=True)
        ctx.exit(1)
