"""What a fair comparison costs: the README's figures for a list of learning rates and for the
linear probe, measured as a user runs them (wall time of whole `zoo` commands).

    python scripts/fair_costs.py [--images 2000] [--epochs 10] [--work DIR]

1. `zoo compare vgg16 --lr 1e-4,1e-3,1e-2` against `--lr 1e-3` alone, 10 epochs, on CIFAR-format
   batches of `--images` training images (and a fifth as many test images), `--no-store`, so
   that each run extracts its features once, as a first run does;
2. `zoo compare NAMES --protocol linear-probe` on 5 backbones against `zoo rank NAMES`, both with
   a warm feature store (each run once before it is timed).

The images are written by the tests' CIFAR-10 writer (tests/dataset_files.py: the real batch
format, a learnable colour per class); the backbones have random weights (no download here).
Prints a Markdown table of the timings (the median of --repeats runs) and their ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.dataset_files writes the CIFAR-10 format

PROBED = ("vgg16", "resnet50", "mobilenetv2", "densenet121", "efficientnetb0")


def timed(*args, env) -> float:
    """Seconds of wall time of one `zoo` command (it must succeed), into a fresh --output folder."""
    shutil.rmtree(args[args.index("--output") + 1], ignore_errors=True)
    start = time.perf_counter()
    done = subprocess.run(["zoo", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        sys.exit(f"zoo {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--work", type=Path, default=None, help="Default: a temporary folder.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs of each timed command; the median is shown.")
    options = parser.parse_args()
    from tests.dataset_files import write_cifar10

    work = options.work or Path(tempfile.mkdtemp(prefix="zoo-fair-costs-"))
    data = work / "cifar-10-batches-py"
    if not data.exists():
        write_cifar10(data, n_train=options.images, n_test=options.images // 5)
    env = {**os.environ, "ZOO_CACHE": str(work / "store")}
    common = ("--data-dir", str(data), "--weights", "none")
    lines = ["| command | wall s, median (each run) |", "| --- | ---: |"]

    def run(label, *args):
        runs = [timed(*args, env=env) for _ in range(options.repeats)]
        seconds = statistics.median(runs)
        lines.append(f"| `{label}` | {seconds:.1f} ({', '.join(f'{r:.1f}' for r in runs)}) |")
        print(lines[-1], flush=True)
        return seconds

    fine = ("compare", "vgg16", *common, "--epochs", str(options.epochs), "--no-store", "--save-models", "none")
    one = run("zoo compare vgg16 --lr 1e-3", *fine, "--lr", "1e-3", "--output", str(work / "one"))
    three = run("zoo compare vgg16 --lr 1e-4,1e-3,1e-2", *fine, "--lr", "1e-4,1e-3,1e-2",
                "--output", str(work / "three"))
    rank = ("rank", *PROBED, *common)
    probe = ("compare", *PROBED, *common, "--protocol", "linear-probe", "--save-models", "none")
    timed(*rank, "--output", str(work / "rank-warm"), env=env)  # the store warmed: train and val
    timed(*probe, "--output", str(work / "probe-warm"), env=env)  # and test
    ranked = run(f"zoo rank {' '.join(PROBED)} (warm store)", *rank, "--output", str(work / "rank"))
    probed = run(f"zoo compare {' '.join(PROBED)} --protocol linear-probe (warm store)", *probe,
                 "--output", str(work / "probe"))
    print("\n".join(lines))
    print(f"\nthree rates / one: {three / one:.2f}x; linear probe / rank: {probed / ranked:.2f}x")


if __name__ == "__main__":
    main()
