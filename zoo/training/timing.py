"""Step timing, shared by ``zoo compare`` and ``zoo bench``; ``step_timing`` measures a model
once per key and keeps the figures in this process and in the feature store.

Each step returns a NumPy value (Keras's ``train_on_batch`` and ``predict_on_batch``
do), so the clock stops only once the device has finished the step, on every backend.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np

WARMUP_STEPS = 5
TIMED_STEPS = 20


@dataclass
class StepTiming:
    """Seconds per timed step, plus the first step (compilation included) on its own."""

    seconds: list[float]
    compile_s: float
    batch_size: int

    @property
    def median_ms(self) -> float:
        return float(np.median(self.seconds) * 1e3)

    @property
    def p10_ms(self) -> float:
        return float(np.percentile(self.seconds, 10) * 1e3)

    @property
    def p90_ms(self) -> float:
        return float(np.percentile(self.seconds, 90) * 1e3)

    @property
    def images_per_s(self) -> float:
        return self.batch_size / (self.median_ms / 1e3)


def time_steps(step, batch_size: int, steps: int = TIMED_STEPS, warmup: int = WARMUP_STEPS) -> StepTiming:
    """Run ``step()`` once (compiles), ``warmup - 1`` more times untimed, then ``steps`` timed."""
    if steps < 1:
        raise ValueError("steps must be at least 1")
    start = time.perf_counter()
    np.asarray(step())
    compile_s = time.perf_counter() - start
    for _ in range(max(warmup - 1, 0)):
        np.asarray(step())
    seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        np.asarray(step())  # a NumPy result means the step has finished on the device
        seconds.append(time.perf_counter() - start)
    return StepTiming(seconds, compile_s, batch_size)


def random_batch(model, batch_size: int, num_classes: int, seed: int = 0):
    """A batch of random images in 0..255 shaped for ``model``'s input, in the dtype it takes
    (float32, or uint8 images), and random int32 labels. Drawn straight in that dtype: a
    float64 draw cast down would need three times the batch's memory for a moment."""
    rng = np.random.default_rng(seed)
    shape = (batch_size, *model.input_shape[1:])
    dtype = np.dtype(model.inputs[0].dtype)
    if dtype.kind == "f":
        images = rng.random(shape, dtype=np.float32 if dtype.itemsize <= 4 else dtype)
        images *= 255
        images = images.astype(dtype, copy=False)
    else:
        images = rng.integers(0, 256, shape, dtype=dtype)
    return images, rng.integers(0, num_classes, batch_size, dtype=np.int32)


def train_step(model, batch_size: int, num_classes: int):
    """One training step of a compiled ``model`` on a fixed random batch, as a callable.

    Each call returns the loss as a NumPy value, so it returns once the step is done.
    ``zoo bench``, ``zoo compare`` and the pytest-benchmark suite all time this callable.
    """
    x, y = random_batch(model, batch_size, num_classes)
    return lambda: np.asarray(model.train_on_batch(x, y))


def infer_step(model, batch_size: int):
    """One inference step of ``model`` on a fixed random batch, as a callable (see ``train_step``)."""
    x, _ = random_batch(model, batch_size, 1)
    return lambda: np.asarray(model.predict_on_batch(x))


def time_train_step(model, batch_size: int, num_classes: int, steps: int = TIMED_STEPS,
                    warmup: int = WARMUP_STEPS) -> StepTiming:
    """Training steps of a compiled ``model`` (its weights change: time a copy you can spare)."""
    return time_steps(train_step(model, batch_size, num_classes), batch_size, steps, warmup)


def time_infer_step(model, batch_size: int, steps: int = TIMED_STEPS, warmup: int = WARMUP_STEPS) -> StepTiming:
    """Inference steps of ``model`` on a random batch."""
    return time_steps(infer_step(model, batch_size), batch_size, steps, warmup)


_timings: dict[str, dict] = {}  # this process's step timings, by key


def step_timing(model, batch_size: int, num_classes: int, store, key: dict, *, retime: bool = False,
                shared_load: bool = False) -> dict:
    """The full model's median training step (ms) and inference images/s, measured once per
    ``key`` (backbone, model size, input and batch size, device...): seeds change neither, so
    the trials of a grid, and later runs through the store, reuse the first measurement.

    Returns the figures with ``timed_at`` (when they were measured, ISO 8601, local time) and
    ``step_timing``, which says whether this call ``measured`` them or ``reused`` them. With
    ``retime`` they are measured again. A timing taken while other trials ran beside it
    (``shared_load``) says so, and only another such run reuses it: a quiet run measures again.
    """
    name = json.dumps(key, sort_keys=True, default=str)
    found = None if retime else (_timings.get(name) or (store.timing(key) if store is not None else None))
    if found is not None and found.get("shared_load") and not shared_load:
        found = None  # measured under another's load: not a figure for a quiet machine
    how = "reused"
    if found is None:
        train = time_train_step(model, batch_size, num_classes)
        infer = time_infer_step(model, batch_size)
        found = {"train_step_ms": train.median_ms, "infer_images_per_s": infer.images_per_s,
                 "timed_at": datetime.now().isoformat(timespec="seconds"), "shared_load": shared_load}
        if store is not None:
            store.save_timing(key, found)
        how = "measured"
    _timings[name] = found
    if found.get("shared_load"):
        how += " under shared load"
    return {**found, "step_timing": how}
