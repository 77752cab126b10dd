"""The feature store and the scores, for pytest-benchmark: what a repeat, another head or
``zoo rank`` costs once features are stored, beside what computing them costs.

    python -m pytest benchmarks/test_features.py --benchmark-only

Random weights on random images (``ZOO_BENCH_FEATURE_IMAGES`` of them, 512 by default):
these time the machinery, not any accuracy.
"""

import os

import numpy as np
import pytest

import zoo
from zoo.backbones.model import assemble
from zoo.scores import knn_accuracy, logme
from zoo.training.features import frozen_features
from zoo.training.store import FeatureStore

IMAGES = int(os.environ.get("ZOO_BENCH_FEATURE_IMAGES", "512"))


@pytest.fixture(scope="module")
def extractor():
    built = assemble(zoo.get_backbone("vgg16"), (32, 32, 3), 10, input_size=32, weights=None, freeze="all", seed=0)
    rng = np.random.default_rng(0)
    return built.frozen, rng.integers(0, 256, (IMAGES, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, IMAGES)


def test_extract_and_store(benchmark, extractor, tmp_path):
    model, x, y = extractor
    store = FeatureStore(tmp_path)
    benchmark.group = "features"
    benchmark.extra_info.update(backbone="vgg16", images=IMAGES)

    def miss():
        store.clear()
        return frozen_features(model, x, y, {"bench": "miss"}, store, batch_size=32, in_memory=True)

    benchmark.pedantic(miss, rounds=3, iterations=1, warmup_rounds=1)


def test_read_from_store(benchmark, extractor, tmp_path):
    model, x, y = extractor
    store = FeatureStore(tmp_path)
    frozen_features(model, x, y, {"bench": "hit"}, store, batch_size=32, in_memory=True)
    benchmark.group = "features"
    benchmark.extra_info.update(backbone="vgg16", images=IMAGES)
    _, source = benchmark.pedantic(frozen_features, args=(model, x, y, {"bench": "hit"}, store),
                                   kwargs=dict(batch_size=32, in_memory=True), rounds=5, iterations=1)
    assert source == "hit"


@pytest.mark.parametrize("score", ["logme", "knn"])
def test_score(benchmark, score):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, 4000)
    f = np.eye(10)[y] @ rng.normal(size=(10, 2048)) + rng.normal(size=(4000, 2048))
    benchmark.group = "scores"
    benchmark.extra_info.update(images=4000, dim=2048)
    if score == "logme":
        benchmark.pedantic(logme, args=(f, y), rounds=3, iterations=1)
    else:
        benchmark.pedantic(knn_accuracy, args=(f[:3200], y[:3200], f[3200:], y[3200:]), rounds=3, iterations=1)
