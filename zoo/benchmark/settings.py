"""What ``zoo bench`` measures and how its rows read: the vocabulary its command, its per-backend
subprocesses and its files share, without building anything (zoo.benchmark.measure builds)."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field

from ..backend import PACKAGES, backend_name
from ..core.rows import Status
from ..training import timing

ROW_KEYS = ("backbone", "mode", "batch_size", "input_size", "precision", "step_ms_median",
            "step_ms_p10", "step_ms_p90", "images_per_s", "compile_s", "peak_host_mb",
            "peak_device_mb", "params", "device", "backend", "keras_version")
STATUS_KEYS = ("status", "error")  # "ok" and None, or "failed" and a one-line reason
FAILED = str(Status.FAILED)  # the word zoo compare's rows use

# The head ends in a 10-way softmax, as in ``zoo compare`` on CIFAR-10, so that the
# figures predict its step times. A 1000-way head would add 0.25M parameters
# (Dense 256 -> 1000): next to any of the backbones, a difference in the noise.
NUM_CLASSES = 10

MODES = ("train", "infer")
# The train row's mode under ``--freeze none``: every layer trains (full fine-tuning).
TRAIN_FULL = "train-full"
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
BACKENDS = PACKAGES  # backend -> package


def is_failed(row: dict) -> bool:
    """Whether a row has no timing. Any status but "ok": rows that zoo bench wrote before it
    said "failed" say "error", and files are kept and compared long after."""
    return row.get("status", Status.OK) != Status.OK


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


def backend_version(name: str | None = None) -> str | None:
    """The installed version of a Keras backend's package, without importing it."""
    name = name or backend_name()
    try:
        return importlib.metadata.version(BACKENDS.get(name, name))
    except importlib.metadata.PackageNotFoundError:
        return None


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


def resolved_jit(settings: Settings) -> str:
    asked = {None: "auto", True: "on", False: "off"}[settings.jit]
    if settings.jit is None and len(settings.jit_resolved) == 1:
        return f"auto ({'on' if next(iter(settings.jit_resolved)) else 'off'} here)"
    return asked
