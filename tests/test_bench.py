"""``zoo bench``: rows, files, failures, backends, and comparing two result files.

The settings are tiny (batch 2, 2 timed steps) and no test has a timing threshold:
the figures are checked for being there, positive and consistent, never for speed.
"""

import importlib.util
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from zoo import benchmark as bench
from zoo.cli import cli

from .conftest import TINY_PLUGIN, json_out

TINY = ["--batch-size", "2", "--steps", "2", "--warmup", "1"]
KEYS = set(bench.ROW_KEYS) | {"status", "error"}
FIGURES = ("step_ms_median", "step_ms_p10", "step_ms_p90", "images_per_s", "compile_s", "peak_host_mb")
BROKEN_BUILD = '''
import zoo

def build(input_shape, weights):
    raise RuntimeError("this backbone cannot be built")

@zoo.hookimpl
def register_backbones(register):
    register(zoo.Backbone(name="zz-broken", build=build, preprocess=lambda x: x, min_input_size=8,
                          default_input_size=8, freeze_layer=None, pooling="avg"))
'''


def check_ok_row(row):
    assert set(row) == KEYS, row
    assert row["status"] == "ok" and row["error"] is None
    assert all(row[key] > 0 for key in FIGURES), row
    assert row["step_ms_p10"] <= row["step_ms_median"] <= row["step_ms_p90"]
    # images/s is the batch over the median step time, up to the rounding of both figures.
    assert row["images_per_s"] == pytest.approx(row["batch_size"] / row["step_ms_median"] * 1000, rel=1e-3)
    assert row["peak_device_mb"] is None or row["peak_device_mb"] > 0  # None on a CPU
    assert isinstance(row["params"], int) and row["params"] > 0
    assert row["backend"] and row["device"] and re.match(r"\d+\.\d+", row["keras_version"])


def test_all_json_reports_a_failing_backbone_and_times_the_others(run_zoo, tmp_path):
    broken = tmp_path / "broken_build.py"
    broken.write_text(BROKEN_BUILD)
    out = tmp_path / "rows.json"
    result = run_zoo("--plugin", TINY_PLUGIN, "--plugin", broken, "bench", "--all", "--json",
                     "--mode", "infer", "--output", out, *TINY, check=1)
    rows = json_out(result)
    assert json.loads(out.read_text()) == rows
    assert [row["backbone"] for row in rows] == ["densenet121", "resnet50", "tiny", "vgg16", "zz-broken"]
    assert {row["mode"] for row in rows} == {"infer"}
    by_name = {row["backbone"]: row for row in rows}
    failed = by_name.pop("zz-broken")
    assert set(failed) == KEYS and failed["status"] == "error"
    assert failed["error"] == "RuntimeError: this backbone cannot be built"
    assert all(failed[key] is None for key in (*FIGURES, "params"))
    for row in by_name.values():
        check_ok_row(row)
        assert row["batch_size"] == 2 and row["precision"] == "float32"
    assert by_name["tiny"]["input_size"] == 8 and by_name["vgg16"]["input_size"] == 32  # min input sizes
    # The full model: the backbone (14,714,688 parameters, as `zoo list` shows) plus the head.
    assert by_name["vgg16"]["params"] == 14_714_688 + (512 * 256 + 256) + (256 * 10 + 10)


def test_train_and_infer_rows_table_and_csv(run_zoo, tmp_path):
    out = tmp_path / "rows.csv"
    result = run_zoo("--plugin", TINY_PLUGIN, "bench", "tiny", "vgg16", "--output", out, *TINY, check=0)
    assert "zoo bench" in result.stdout and "tiny" in result.stdout and "vgg16" in result.stdout
    assert "tensorflow" in result.stdout  # the caption names the backend
    frame = pd.read_csv(out)
    assert list(frame.columns) == [*bench.ROW_KEYS, "status", "error"]
    assert list(zip(frame["backbone"], frame["mode"])) == [("tiny", "train"), ("tiny", "infer"),
                                                            ("vgg16", "train"), ("vgg16", "infer")]
    for row in frame.to_dict("records"):
        check_ok_row({**row, "error": None if pd.isna(row["error"]) else row["error"],
                      "peak_device_mb": None if pd.isna(row["peak_device_mb"]) else row["peak_device_mb"],
                      "params": int(row["params"])})


def test_backends_side_by_side_with_a_missing_one(run_zoo):
    missing = next((name for name in ("jax", "torch") if importlib.util.find_spec(name) is None), None)
    backends = ",".join(filter(None, ["tensorflow", missing]))
    result = run_zoo("--plugin", TINY_PLUGIN, "bench", "tiny", "--mode", "train", "--freeze", "none",
                     "--backends", backends, "--json", *TINY, check=1 if missing else 0)
    rows = json_out(result)
    assert [(row["backend"], row["mode"]) for row in rows] == [
        (name, "train-full") for name in backends.split(",")]
    check_ok_row(rows[0])
    if missing:
        assert rows[1]["status"] == "error"
        assert rows[1]["error"] == f"{missing} is not installed (pip install {missing})"


@pytest.mark.parametrize("args, message", [
    (["vgg16", "--precision", "float8"], "'float8' is not one of"),
    (["vgg16", "--output", "rows.txt"], "must end in .json or .csv"),
    (["vgg16", "--backends", "tensorflow,theano"], "theano: choose among tensorflow, jax, torch"),
    (["vgg16", "--steps", "0"], "0 is not in the range x>=1"),
    (["vgg16", "--all"], "not both"),
    ([], "or --all"),
])
def test_bad_options_are_click_errors(args, message):
    result = CliRunner().invoke(cli, ["bench", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_unknown_backbone_exits_2_before_timing_anything():
    result = CliRunner().invoke(cli, ["bench", "vgg16", "resnet5"])
    assert result.exit_code == 2
    assert "unknown backbone 'resnet5'. Did you mean 'resnet50'?" in result.output


def test_mode_names():
    assert bench.mode_names("both", "recommended") == ["train", "infer"]
    assert bench.mode_names("train", "none") == ["train-full"]
    assert bench.mode_names("infer", "none") == ["infer"]


def test_host_peak_sees_a_short_lived_allocation():
    import numpy as np

    peak = bench.HostPeak().start()
    block = np.ones(64 * 2**20 // 8)  # 64 MB, touched
    del block
    assert peak.stop() >= bench.HostPeak._rss_mb() + 60


def pytest_benchmark_file(path: Path, medians: dict, **extra) -> Path:
    path.write_text(json.dumps({"machine_info": {}, "benchmarks": [
        {"name": name, "fullname": f"benchmarks/test_steps.py::{name}", "group": "train",
         "stats": {"median": median}, "extra_info": extra} for name, median in medians.items()]}))
    return path


def test_compare_pytest_benchmark_files(tmp_path):
    a = pytest_benchmark_file(tmp_path / "a.json", {"test_step[vgg16-train]": 0.1, "test_step[tiny-train]": 0.02})
    b = pytest_benchmark_file(tmp_path / "b.json", {"test_step[vgg16-train]": 0.05, "test_step[x-infer]": 0.01})
    rows = {row["name"]: row for row in bench.compare_rows(bench.load_results(a), bench.load_results(b))}
    assert rows["test_step[vgg16-train]"]["ratio"] == pytest.approx(0.5)
    assert rows["test_step[vgg16-train]"]["a_ms"] == pytest.approx(100)
    assert rows["test_step[tiny-train]"]["note"] == "only in A"
    assert rows["test_step[x-infer]"]["note"] == "only in B"
    result = CliRunner().invoke(cli, ["bench", "--compare", str(a), str(b)])
    assert result.exit_code == 0, result.output  # a slower B never fails: it only reports
    assert "test_step[vgg16-train]" in result.output and "2.00x faster" in result.output


def test_compare_zoo_bench_rows_across_backends(tmp_path):
    def rows(backend, ms):
        return [{"backbone": "vgg16", "mode": mode, "backend": backend, "step_ms_median": ms,
                 "images_per_s": 2000 / ms, "status": "ok", "error": None} for mode in ("train", "infer")]

    a, b = tmp_path / "tf.json", tmp_path / "torch.json"
    a.write_text(json.dumps(rows("tensorflow", 50.0)))
    b.write_text(json.dumps(rows("torch", 150.0)))
    compared = bench.compare_rows(bench.load_results(a), bench.load_results(b))
    assert [(row["name"], row["ratio"]) for row in compared] == [("vgg16 train", 3.0), ("vgg16 infer", 3.0)]
    # Rows of several backends in one file (from --backends) are told apart by backend.
    both = tmp_path / "both.json"
    both.write_text(json.dumps(rows("tensorflow", 50.0) + rows("torch", 150.0)))
    assert set(bench.load_results(both)) == {"vgg16 train backend=tensorflow", "vgg16 infer backend=tensorflow",
                                             "vgg16 train backend=torch", "vgg16 infer backend=torch"}


def test_compare_rejects_other_files(tmp_path):
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    result = CliRunner().invoke(cli, ["bench", "--compare", str(other), str(other)])
    assert result.exit_code == 2 and "neither pytest-benchmark JSON" in result.output


def test_only_backend_py_imports_a_backend_framework():
    """zoo runs under KERAS_BACKEND=torch or jax: no TensorFlow-only (or torch-only) code paths."""
    package = Path(bench.__file__).parent
    pattern = re.compile(r"^\s*(import|from)\s+(tensorflow|torch|jax)\b", re.MULTILINE)
    offenders = [path.name for path in package.glob("*.py")
                 if path.name != "backend.py" and pattern.search(path.read_text())]
    assert offenders == []
