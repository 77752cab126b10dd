"""The decoding pipeline, for pytest-benchmark: images per second from a folder of JPEGs to
batches at a backbone's input size (``zoo.data.sources.decoded_batches``: headers read, files decoded
a few batches ahead in threads, resized by the crop policy).

    python -m pytest benchmarks/test_decoding.py --benchmark-only

A generated folder (``ZOO_BENCH_DECODE_IMAGES`` JPEGs of 1024x768, 64 by default): it times
the machinery on synthetic photos, not any real camera's files.
"""

import os

import numpy as np
import pytest
from PIL import Image

from zoo.data.sources import ImageFiles, decoded_batches, fingerprint, scan

IMAGES = int(os.environ.get("ZOO_BENCH_DECODE_IMAGES", "64"))


def write_photos(folder, n: int, size=(1024, 768), seed: int = 0, first: int = 0) -> list:
    """``n`` JPEGs of ``size`` (width, height), numbered from ``first``: smooth gradients with
    noise, about as hard to compress as a photo. Returns their paths."""
    rng = np.random.default_rng(seed)
    width, height = size
    ramp = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    paths = []
    for i in range(first, first + n):
        colour = rng.uniform(0.3, 1.0, 3).astype(np.float32)
        pixels = ramp * colour + rng.normal(0, 12, (height, 1, 3)).astype(np.float32)
        path = folder / f"{i:05d}.jpg"
        Image.fromarray(np.clip(np.broadcast_to(pixels, (height, width, 3)), 0, 255).astype(np.uint8)).save(
            path, quality=90)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    paths = write_photos(folder, IMAGES)
    found = scan(paths)
    labels = np.zeros(len(found.readable), np.int64)
    return ImageFiles("bench", tuple(map(str, found.readable)), labels, (), labels[:0], ["photo"], str(folder),
                      fingerprint=fingerprint(folder, found.readable, labels))


def test_decode_to_batches(benchmark, photos):
    view = photos.view("train")
    benchmark.group = "decoding"
    benchmark.extra_info.update(images=len(view), source="1024x768 JPEG (generated)", size=224, resize="crop")

    def decode_all():
        return sum(len(images) for _, images in decoded_batches(view, 224, "crop", 32))

    assert benchmark.pedantic(decode_all, rounds=3, iterations=1, warmup_rounds=1) == len(view)
    benchmark.extra_info["images_per_s"] = len(view) / benchmark.stats.stats.median
