"""One train step and one inference step of every registered backbone, for pytest-benchmark.

    python -m pytest benchmarks --benchmark-only --benchmark-json=results.json

Backbones are those ``zoo list`` shows: the built-ins and every installed plugin,
plus plugin files named in ``ZOO_PLUGINS``. The models and steps are exactly those
``zoo bench`` times (``zoo.benchmark.measure.build_model``, ``zoo.training.timing.train_step``/``infer_step``).
"""

import time

import pytest

import zoo
from zoo import backend
from zoo.backbones.selection import select_backbones
from zoo.benchmark.measure import build_model
from zoo.benchmark.settings import NUM_CLASSES, backend_version
from zoo.training import timing

from .conftest import BACKBONES, BATCH, INPUT_SIZE, PRECISION, ROUNDS, WARMUP

NAMES = select_backbones(BACKBONES.split())


@pytest.mark.parametrize("mode", ["train", "infer"])
@pytest.mark.parametrize("name", NAMES)
def test_step(benchmark, name, mode):
    import keras

    card = zoo.get_backbone(name)
    size = INPUT_SIZE or card.min_input_size
    if size < card.min_input_size:
        pytest.skip(f"ZOO_BENCH_INPUT_SIZE={size} is below {name}'s min input size {card.min_input_size}")
    model = build_model(card, size)
    step = timing.train_step(model, BATCH, NUM_CLASSES) if mode == "train" else timing.infer_step(model, BATCH)

    start = time.perf_counter()
    step()  # the first step compiles: timed apart, never in the rounds
    compile_s = time.perf_counter() - start

    benchmark.group = mode
    benchmark.extra_info.update(
        backbone=name, mode=mode, batch_size=BATCH, input_size=size, precision=PRECISION,
        params=int(model.count_params()), compile_s=round(compile_s, 3), device=backend.device_name(),
        backend=backend.backend_name(), backend_version=backend_version(), keras_version=keras.__version__)
    benchmark.pedantic(step, rounds=ROUNDS, iterations=1, warmup_rounds=WARMUP)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["images_per_s"] = round(BATCH / benchmark.stats.stats.median, 2)
