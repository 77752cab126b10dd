"""Measuring: building one backbone as ``zoo compare`` trains it and timing its steps.

Each backbone is assembled with ``zoo.backbones.model.assemble`` (preprocessing, backbone, the
protocol's head), without weights, and timed on a random batch with ``zoo.training.timing``.
Rows are one per backbone per mode, with the keys in ``ROW_KEYS`` and ``STATUS_KEYS`` (zoo.benchmark.settings).
The pytest-benchmark suite in ``benchmarks/`` builds its models with ``build_model``.
"""

from __future__ import annotations

import gc
import os
import threading

import keras

from .. import backend
from ..backbones.model import assemble
from ..backend import environment
from ..core.rows import Status
from ..errors import one_line
from ..training import timing
from .settings import FAILED, NUM_CLASSES, ROW_KEYS, Settings, mode_names

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

def build_model(card, size: int, *, freeze: str = "recommended", jit: bool | None = None,
                num_classes: int = NUM_CLASSES):
    """The full image -> prediction model zoo trains, without weights, compiled for train steps."""
    model = assemble(card, (size, size, 3), num_classes, input_size=size, weights=None,
                     freeze=freeze, pooling="recommended", preprocess=True).model
    model.compile(optimizer=keras.optimizers.SGD(), loss="sparse_categorical_crossentropy",
                  jit_compile="auto" if jit is None else jit)
    return model


def _round(value, digits):
    return None if value is None else round(float(value), digits)


def _base_row(name: str, mode: str, batch_size: int, input_size, precision: str) -> dict:
    row = dict.fromkeys(ROW_KEYS)
    row.update(backbone=name, mode=mode, batch_size=batch_size, input_size=input_size,
               precision=precision, **environment(), status=str(Status.OK), error=None)
    return row


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


def run_bench(cards, settings: Settings, mode: str = "both", progress=None) -> list[dict]:
    """Every row for ``cards`` on the running Keras backend, under ``settings.precision``."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(settings.precision)
    try:
        rows = []
        for card in cards:
            rows += bench_backbone(card, settings, mode_names(mode, settings.freeze), progress)
        return rows
    finally:
        keras.config.set_dtype_policy(previous)
