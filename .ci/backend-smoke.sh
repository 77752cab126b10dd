#!/usr/bin/env bash
# Smoke test of another Keras backend on the CPU: .ci/backend-smoke.sh torch|jax.
# zoo must import and run without TensorFlow-only code paths. Run from the repository root
# in the CI virtual environment.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:?usage: .ci/backend-smoke.sh torch|jax}"

case "$backend" in
    # The one torch this CI installs: a CPU build served from the machine's local package cache.
    torch) python -m pip install -q torch==2.13.0 ;;
    jax) python -m pip install -q jax ;;  # jaxlib's wheels run on the CPU
    *) echo "unknown backend $backend" >&2; exit 2 ;;
esac

export KERAS_BACKEND="$backend"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

zoo list
zoo bench vgg16 --steps 2 --warmup 1 --batch-size 4 --output "$work/bench.json"
python - "$work/bench.json" "$backend" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
assert {row["backend"] for row in rows} == {sys.argv[2]}, rows
assert all(row["status"] == "ok" for row in rows), rows
PY

# One epoch of `zoo compare` on a small CIFAR-10 folder in the original python-batch format.
python -c "import sys; from tests.dataset_files import write_cifar10; write_cifar10(sys.argv[1], n_train=40, n_test=16)" \
    "$work/cifar10"
# Two rates and two dropouts, each candidate from the same weights (a head built again for the
# other dropout), the best on validation kept; then the linear probe on the same features.
zoo compare vgg16 --data-dir "$work/cifar10" --weights none --epochs 1 --batch-size 8 --limit 16 \
    --lr 1e-3,1e-2 --dropout 0.2,0.5 --output "$work/compare" --json > "$work/compare.json"
zoo compare vgg16 --data-dir "$work/cifar10" --weights none --batch-size 8 --limit 16 --protocol linear-probe \
    --output "$work/probe" --json > "$work/probe.json"
python - "$work/compare.json" "$work/probe.json" "$backend" "$work" <<'PY'
import csv, json, sys
[row] = json.load(open(sys.argv[1]))
assert row["status"] == "ok" and row["backend"] == sys.argv[3], row
tried = list(csv.DictReader(open(f"{sys.argv[4]}/compare/tuning.csv")))
assert len(tried) == 4 and sum(t["chosen"] == "True" for t in tried) == 1, tried
assert len(list(csv.DictReader(open(f"{sys.argv[4]}/compare/vgg16-cifar10-seed0/predictions.csv")))) == 16
[probe] = json.load(open(sys.argv[2]))
assert probe["status"] == "ok" and probe["protocol"] == "linear-probe" and probe["C"] > 0, probe
PY
# A folder of PNGs, streamed: features extracted batch by batch, then the whole model trained
# from the files (--no-cache), under this backend.
python -c "import sys; from tests.dataset_files import write_image_folder; write_image_folder(sys.argv[1], per_class=6)" \
    "$work/pets"
for cache in cached uncached; do
    flags=()
    if [ "$cache" = uncached ]; then flags=(--no-cache); fi
    zoo compare mobilenetv3small --dataset "folder:$work/pets" --weights none --epochs 1 --batch-size 4 \
        --input-size 32 ${flags[@]+"${flags[@]}"} --output "$work/folder-$cache" --json > "$work/folder.json"
    python - "$work/folder.json" "$backend" <<'PY'
import json, sys
[row] = json.load(open(sys.argv[1]))
assert row["status"] == "ok" and row["backend"] == sys.argv[2] and row["data_shape"] == "32x32x3", row
PY
done
# A keras-hub transformer under this backend: a tiny random ViT (tests/plugins/tiny_hub.py) fine-tuned
# from cached block outputs and from the images, and ranked; a real card (DeiT-Ti) benchmarked.
hub=(--plugin tests/plugins/tiny_hub.py)
for cache in cached uncached; do
    flags=()
    if [ "$cache" = uncached ]; then flags=(--no-cache); fi
    zoo "${hub[@]}" compare tiny_vit --data-dir "$work/cifar10" --weights none --epochs 1 --batch-size 8 --limit 16 \
        ${flags[@]+"${flags[@]}"} --output "$work/vit-$cache" --json > "$work/vit.json"
    python - "$work/vit.json" "$backend" <<'PY'
import json, sys
[row] = json.load(open(sys.argv[1]))
assert row["status"] == "ok" and row["backend"] == sys.argv[2], row
PY
done
zoo "${hub[@]}" rank tiny_vit --data-dir "$work/cifar10" --weights none --limit 16 --output "$work/vit-rank" > /dev/null
python - "$work/vit-rank/rank.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
assert rows[0]["status"] == "ok" and rows[0]["pooling"] == "cls" and rows[0]["linear_probe"] is not None, rows
PY
zoo bench deit_ti --input-size 32 --steps 2 --warmup 1 --batch-size 4 --output "$work/bench-deit.json"
echo "backend smoke test under KERAS_BACKEND=$backend: ok"
