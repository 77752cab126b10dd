"""Settings of the benchmark suite, from environment variables (see docs/benchmarks.md).

The defaults are small, so the whole suite runs in a few minutes on a 2-core CPU;
raise them for figures that mean something.
"""

import os

import pytest


def _int(name: str, default: int | None) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise pytest.UsageError(f"{name}={value!r}: give a whole number") from None
    if number < (0 if name == "ZOO_BENCH_WARMUP" else 1):
        raise pytest.UsageError(f"{name}={value!r} is too small")
    return number


BATCH = _int("ZOO_BENCH_BATCH", 2)
INPUT_SIZE = _int("ZOO_BENCH_INPUT_SIZE", None)  # None: each backbone's min input size
ROUNDS = _int("ZOO_BENCH_ROUNDS", 3)
WARMUP = _int("ZOO_BENCH_WARMUP", 1)
PRECISION = os.environ.get("ZOO_BENCH_PRECISION", "float32")
# The classic three by default: the whole catalogue (40) would take hours on a CPU.
BACKBONES = os.environ.get("ZOO_BENCH_BACKBONES", "vgg16 resnet50 densenet121")


@pytest.fixture(autouse=True)
def fresh_keras_session():
    """Each benchmark builds its model under the chosen precision, and frees it afterwards."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(PRECISION)
    yield
    keras.config.set_dtype_policy(previous)
    keras.utils.clear_session(free_memory=True)
