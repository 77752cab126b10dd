"""Streaming a folder: peak memory against the number of images, and zoo's extraction against
the code a Keras user would write. Prints the figures as Markdown rows for the README.

    python benchmarks/streaming.py FOLDER [--images 2000,8000] [--backbone mobilenetv3small]

Writes generated 1024x768 JPEGs (two classes) under FOLDER the first time (synthetic photos:
the figures time the data path, not any accuracy), then for each count:

- memory: ``zoo rank BACKBONE --weights none --input-size 224`` on the first N images, in a
  fresh process, its peak resident memory (ru_maxrss) with a fresh feature store;
- speed (the largest count): ``keras.utils.image_dataset_from_directory(..., image_size=(224,
  224))`` then ``backbone.predict``, against ``zoo.rank`` on the same folder with a fresh
  store, in one process, as images per second (rank reads the training and validation images,
  80% of the folder): zoo's time includes reading the headers, building the backbone, decoding,
  extracting, writing the store and scoring; Keras's, decoding and predicting.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_decoding import write_photos  # noqa: E402  (the benchmark suite's generator)


def folder_of(root: Path, n: int) -> Path:
    """``root/n{N}/{a,b}/``: the first N generated photos, linked (no copies), half per class."""
    photos = root / "photos"
    have = sorted(photos.glob("*.jpg")) if photos.is_dir() else []
    if len(have) < n:
        photos.mkdir(parents=True, exist_ok=True)
        have += write_photos(photos, n - len(have), seed=len(have), first=len(have))
    folder = root / f"n{n}"
    if not folder.is_dir():
        for i, path in enumerate(have[:n]):
            (folder / "ab"[i % 2]).mkdir(parents=True, exist_ok=True)
            os.link(path, folder / "ab"[i % 2] / path.name)
    return folder


def peak_memory_mb(folder: Path, backbone: str) -> tuple[float, float]:
    """Peak resident MB of ``zoo rank`` on ``folder`` in a fresh process, and its seconds."""
    store = tempfile.mkdtemp(prefix="zoo-bench-store-")
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "assert done.returncode == 0, done.stderr[-2000:]; "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, time.perf_counter() - t)")
    zoo = str(Path(sys.executable).with_name("zoo"))
    out = subprocess.run([sys.executable, "-c", code, zoo, "rank", backbone, "--weights", "none", "--input-size",
                          "224", "--dataset", f"folder:{folder}", "--json", "--output", f"{store}/run"],
                         capture_output=True, text=True, env={**os.environ, "ZOO_CACHE": store}, check=True)
    shutil.rmtree(store, ignore_errors=True)
    mb, seconds = out.stdout.split()
    return float(mb), float(seconds)


def speed(folder: Path, backbone: str) -> dict:
    """Seconds for the Keras user's code and for zoo.rank, on ``folder``, in this process."""
    import keras

    import zoo

    card = zoo.get_backbone(backbone)
    model = keras.Sequential([card.build((224, 224, 3), None), keras.layers.GlobalAveragePooling2D()])
    start = time.perf_counter()
    data = keras.utils.image_dataset_from_directory(folder, image_size=(224, 224), batch_size=32, shuffle=False,
                                                    verbose=False)
    model.predict(data, verbose=0)
    keras_seconds = time.perf_counter() - start
    os.environ["ZOO_CACHE"] = tempfile.mkdtemp(prefix="zoo-bench-store-")
    start = time.perf_counter()
    rows = zoo.rank([backbone], f"folder:{folder}", weights=None, input_size=224, val_split=0.2, progress=False)
    zoo_seconds = time.perf_counter() - start
    shutil.rmtree(os.environ["ZOO_CACHE"], ignore_errors=True)
    total = sum(1 for _ in Path(folder).glob("*/*.jpg"))
    decoded = int(rows["train_images"][0] + rows["val_images"][0])  # rank reads train and validation
    return {"images": total, "keras_s": keras_seconds, "keras_images_per_s": total / keras_seconds,
            "zoo_images": decoded, "zoo_s": zoo_seconds, "zoo_images_per_s": decoded / zoo_seconds,
            "zoo_extract_s": float(rows["extract_seconds"][0])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--images", default="2000,8000")
    parser.add_argument("--backbone", default="mobilenetv3small")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    counts = [int(n) for n in args.images.split(",")]
    results = {"backbone": args.backbone, "memory": {}}
    for n in counts:
        folder = folder_of(args.folder, n)
        mb, seconds = peak_memory_mb(folder, args.backbone)
        results["memory"][n] = {"peak_mb": mb, "seconds": seconds}
        print(f"| {n:,} | {mb:,.0f} MB | {seconds:,.0f} s |", flush=True)
    if not args.skip_speed:
        results["speed"] = speed(folder_of(args.folder, max(counts)), args.backbone)
        print(json.dumps(results["speed"]), flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
