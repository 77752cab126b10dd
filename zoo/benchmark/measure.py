"""Measuring: building one backbone as ``zoo compare`` trains it and timing its steps.

Each backbone is assembled with ``zoo.model.assemble`` (preprocessing, backbone, the
protocol's head), without weights, and timed on a random batch with ``zoo.timing``.
Rows are one per backbone per mode, with the keys in ``ROW_KEYS`` and ``STATUS_KEYS``.
The pytest-benchmark suite in ``benchmarks/`` builds its models with ``build_model``.
"""

from __future__ import annotations

import gc
import importlib.metadata
import os
import threading
from dataclasses import dataclass, field

from .. import backend, timing
from ..plugins import one_line

ROW_KEYS = ("backbone", "mode", "batch_size", "input_size", "precision", "step_ms_median",
            "step_ms_p10", "step_ms_p90", "images_per_s", "compile_s", "peak_host_mb",
            "peak_device_mb", "params", "device", "backend", "keras_version")
STATUS_KEYS = ("status", "error")  # "ok" and None, or "failed" and a one-line reason
FAILED = "failed"  # the word zoo compare's rows use (zoo.rows.STATUSES)

# The head ends in a 10-way softmax, as in ``zoo compare`` on CIFAR-10, so that the
# figures predict its step times. A 1000-way head would add 0.25M parameters
# (Dense 256 -> 1000): next to any of the backbones, a difference in the noise.
NUM_CLASSES = 10

MODES = ("train", "infer")
# The train row's mode under ``--freeze none``: every layer trains (full fine-tuning).
TRAIN_FULL = "train-full"
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}  # backend -> package


def is_failed(row: dict) -> bool:
    """Whether a row has no timing. Any status but "ok": rows that zoo bench wrote before it
    said "failed" say "error", and files are kept and compared long after."""
    return row.get("status", "ok") != "ok"


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

    from ..model import assemble

    model = assemble(card, (size, size, 3), num_classes, input_size=size, weights=None,
                     freeze=freeze, pooling="recommended", preprocess=True).model
    model.compile(optimizer=keras.optimizers.SGD(), loss="sparse_categorical_crossentropy",
                  jit_compile="auto" if jit is None else jit)
    return model


def _round(value, digits):
    return None if value is None else round(float(value), digits)


def _base_row(name: str, mode: str, batch_size: int, input_size, precision: str) -> dict:
    from ..harness import environment

    row = dict.fromkeys(ROW_KEYS)
    row.update(backbone=name, mode=mode, batch_size=batch_size, input_size=input_size,
               precision=precision, **environment(), status="ok", error=None)
    return row


def failed_row(name, mode, settings: Settings, input_size, error: str, **known) -> dict:
    """A row for a backbone that could not be timed: every figure None, and why."""
    row = dict.fromkeys((*ROW_KEYS, *STATUS_KEYS))
    row.update(backbone=name, mode=mode, batch_size=settings.batch_size, input_size=input_size,
               precision=settings.precision, **known, status=FAILED, error=error)
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
    """One row per mode for ``card``; a failure becomes a failed row and never raises."""
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
                 "status": FAILED, "error": error} for m in modes]
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
                row.update(status=FAILED, error=one_line(exc))
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
