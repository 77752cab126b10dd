"""``zoo bench``: rows, files, failures, backends, and comparing two result files.

The settings are tiny (batch 2, 2 timed steps) and no test has a timing threshold:
the figures are checked for being there, positive and consistent, never for speed.
In process through click's CliRunner, with the test backbones registered where a test
needs them; only ``--backends`` needs real processes (it starts one per backend).
"""

import importlib.util
import json
import re
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import zoo
from zoo import backend
from zoo.benchmark import files, measure, settings
from zoo.cli import bench as command
from zoo.cli import cli
from zoo.plugins import import_plugin
from zoo.training import timing

from ..conftest import TINY_PLUGIN, json_out, registered

ROOT = Path(__file__).parent.parent.parent
TINY = ["--batch-size", "2", "--steps", "2", "--warmup", "1"]
KEYS = set(settings.ROW_KEYS) | {"status", "error"}
FIGURES = ("step_ms_median", "step_ms_p10", "step_ms_p90", "images_per_s", "compile_s", "peak_host_mb")
MOVED = "Error: --compare moved: use `zoo bench compare A.json B.json`."


def cannot_build(input_shape, weights):
    raise RuntimeError("this backbone cannot be built")


class BrokenBuild:
    """A plugin whose backbone fails to build: its rows fail, the others are timed."""

    @zoo.hookimpl
    def register_backbones(self, register):
        register(zoo.Backbone(name="zz-broken", build=cannot_build, preprocess=lambda x: x, min_input_size=8,
                              default_input_size=8, freeze_layer=None, pooling="avg"))


@pytest.fixture
def tiny():
    zoo.load_plugins()  # the built-ins first, as the CLI loads them
    with registered(import_plugin(str(TINY_PLUGIN)), "tiny-test-plugin"):
        yield


def zoo_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="zoo", catch_exceptions=False)


@cache
def on_gpu() -> bool:
    """Whether the running Keras backend sees an accelerator here (never in CI)."""
    return backend.accelerator_name() is not None


def check_ok_row(row):
    assert set(row) == KEYS, row
    assert row["status"] == "ok" and row["error"] is None
    assert all(row[key] > 0 for key in FIGURES), row
    assert row["step_ms_p10"] <= row["step_ms_median"] <= row["step_ms_p90"]
    # images/s is the batch over the median step time, up to the rounding of both figures.
    assert row["images_per_s"] == pytest.approx(row["batch_size"] / row["step_ms_median"] * 1000, rel=1e-3)
    # What the user sees on this machine: no device memory on a CPU, a peak on a GPU.
    if on_gpu():
        assert row["peak_device_mb"] > 0, row
    else:
        assert row["peak_device_mb"] is None, row
    assert isinstance(row["params"], int) and row["params"] > 0
    assert row["backend"] and row["device"] and re.match(r"\d+\.\d+", row["keras_version"])


def table_column(output: str, column: str) -> list[str]:
    """One column of the rich table in ``output``, a cell per row, as printed."""
    lines = output.splitlines()
    header = [cell.strip() for cell in next(line for line in lines if line.startswith("┃")).strip("┃").split("┃")]
    return [line.strip("│").split("│")[header.index(column)].strip() for line in lines if line.startswith("│")]


def test_all_json_reports_a_failing_backbone_and_times_the_others(tiny, tmp_path):
    out = tmp_path / "rows.json"
    with registered(BrokenBuild(), "broken-build"):
        # Wildcards expand in name order; --all would time all 40 built-in backbones.
        names = ["tiny", "vgg16", "zz-broken"]
        result = zoo_cli("bench", "zz-*", "vgg16", "tiny", "--json", "--mode", "infer", "--output", out, *TINY)
    assert result.exit_code == 1, result.output
    rows = json.loads(result.stdout)
    assert json.loads(out.read_text()) == rows
    assert [row["backbone"] for row in rows] == names
    assert {row["mode"] for row in rows} == {"infer"}
    by_name = {row["backbone"]: row for row in rows}
    failed = by_name.pop("zz-broken")
    assert set(failed) == KEYS and failed["status"] == "failed"  # the word zoo compare's rows use
    assert failed["error"] == "RuntimeError: this backbone cannot be built"
    assert all(failed[key] is None for key in (*FIGURES, "params"))
    for row in by_name.values():
        check_ok_row(row)
        assert row["batch_size"] == 2 and row["precision"] == "float32"
    assert by_name["tiny"]["input_size"] == 8 and by_name["vgg16"]["input_size"] == 32  # min input sizes
    # The full model: the backbone (14,714,688 parameters, as `zoo list` shows) plus the head.
    assert by_name["vgg16"]["params"] == 14_714_688 + (512 * 256 + 256) + (256 * 10 + 10)


def test_the_table_says_failed_and_the_exit_code_is_1(tiny):
    with registered(BrokenBuild(), "broken-build"):
        result = zoo_cli("bench", "zz-broken", "tiny", "--mode", "infer", *TINY)
    assert result.exit_code == 1
    median = dict(zip(table_column(result.stdout, "backbone"), table_column(result.stdout, "median ms")))
    assert median["zz-broken"] == "failed" and re.fullmatch(r"[\d,.]+", median["tiny"])
    assert "1 of 2 rows failed:" in result.stderr
    assert re.search(r"zz-broken \S+ infer: RuntimeError: this backbone cannot be built", result.stderr)


def test_train_and_infer_rows_table_and_csv(tiny, tmp_path):
    out = tmp_path / "rows.csv"
    result = zoo_cli("bench", "tiny", "vgg16", "--output", out, *TINY)
    assert result.exit_code == 0, result.output
    assert "zoo bench" in result.stdout and "tensorflow" in result.stdout  # the caption names the backend
    assert table_column(result.stdout, "backbone") == ["tiny", "tiny", "vgg16", "vgg16"]
    # The device memory column: a dash on a CPU, a figure in MB on a GPU.
    device_mb = table_column(result.stdout, "device MB")
    assert all(re.fullmatch(r"[\d,]+", cell) for cell in device_mb) if on_gpu() else device_mb == ["-"] * 4
    frame = pd.read_csv(out)
    assert list(frame.columns) == [*settings.ROW_KEYS, "status", "error"]
    assert list(zip(frame["backbone"], frame["mode"])) == [("tiny", "train"), ("tiny", "infer"),
                                                            ("vgg16", "train"), ("vgg16", "infer")]
    for row in frame.to_dict("records"):
        check_ok_row({**row, "error": None if pd.isna(row["error"]) else row["error"],
                      "peak_device_mb": None if pd.isna(row["peak_device_mb"]) else row["peak_device_mb"],
                      "params": int(row["params"])})


@pytest.mark.slow  # a subprocess per backend (5 s); quick, test_compare_zoo_bench_rows_across_backends reads such rows
def test_backends_side_by_side_with_a_missing_one(run_zoo):
    """Real processes: ``--backends`` runs each backend in a subprocess of its own."""
    missing = next((name for name in ("jax", "torch") if importlib.util.find_spec(name) is None), None)
    backends = ",".join(filter(None, ["tensorflow", missing]))
    result = run_zoo("--plugin", TINY_PLUGIN, "bench", "tiny", "--mode", "train", "--freeze", "none",
                     "--backends", backends, "--json", *TINY, check=1 if missing else 0)
    rows = json_out(result)
    assert [(row["backend"], row["mode"]) for row in rows] == [
        (name, "train-full") for name in backends.split(",")]
    check_ok_row(rows[0])
    if missing:
        assert rows[1]["status"] == "failed"
        assert rows[1]["error"] == f"{missing} is not installed (pip install {missing})"


@pytest.mark.parametrize("args, message", [
    (["vgg16", "--precision", "float8"], "'float8' is not one of"),
    (["vgg16", "--output", "rows.txt"], "must end in .json or .csv"),
    (["vgg16", "--backends", "tensorflow,theano"], "theano: choose among tensorflow, jax, torch"),
    (["vgg16", "--steps", "0"], "0 is not in the range x>=1"),
    (["--steps", "0", "vgg16"], "0 is not in the range x>=1"),
])
def test_bad_options_are_one_line_click_errors(args, message):
    result = zoo_cli("bench", *args)
    assert result.exit_code == 2, result.output
    [line] = result.output.splitlines()
    assert line.startswith("Error: ") and message in line
    assert line.endswith("See `zoo bench --help`.")  # as when bench was one command


@pytest.mark.parametrize("args, message", [
    (["vgg16", "--all"], "Error: give backbone names or --all, not both."),
    ([], "Error: name one or more backbones, or pass --all (see `zoo list`)."),
])
def test_names_or_all_is_the_one_line_every_command_gives(args, message):
    for name in ("bench", "compare", "rank"):
        result = zoo_cli(name, *args)
        assert (result.exit_code, result.output) == (2, message + "\n"), name


def test_run_is_the_default_command():
    """``zoo bench NAME...`` is ``zoo bench run NAME...``, also for the group used on its own."""
    result = zoo_cli("bench", "run", "vgg16", "--steps", "0")
    assert result.exit_code == 2 and result.output.endswith("See `zoo bench run --help`.\n")
    result = CliRunner().invoke(command.bench, ["vgg16", "--steps", "0"], prog_name="zoo bench")
    assert result.exit_code == 2 and "Usage: zoo bench [OPTIONS] [NAME]..." in result.output  # click's own


def test_unknown_backbone_exits_2_before_timing_anything():
    result = zoo_cli("bench", "vgg16", "resnet5")
    assert result.exit_code == 2
    assert "unknown backbone 'resnet5'. Did you mean 'resnet50'?" in result.output


def test_help_shows_the_run_options_and_the_compare_command():
    result = zoo_cli("bench", "--help")
    assert result.exit_code == 0
    assert result.output.startswith("Usage: zoo bench [OPTIONS] [NAME]...")
    assert all(option in result.output for option in ("--all", "--batch-size", "--jit / --no-jit", "--backends"))
    assert re.search(r"^Commands:\n  compare +Print the B/A step-time ratios", result.output, re.MULTILINE)
    assert "--compare" not in result.output


def test_mode_names():
    assert settings.mode_names("both", "recommended") == ["train", "infer"]
    assert settings.mode_names("train", "none") == ["train-full"]
    assert settings.mode_names("infer", "none") == ["infer"]


def test_host_peak_sees_a_short_lived_allocation():
    import numpy as np

    peak = measure.HostPeak().start()
    block = np.ones(64 * 2**20 // 8)  # 64 MB, touched
    del block
    assert peak.stop() >= measure.HostPeak._rss_mb() + 60


def pytest_benchmark_file(path: Path, medians: dict, **extra) -> Path:
    path.write_text(json.dumps({"machine_info": {}, "benchmarks": [
        {"name": name, "fullname": f"benchmarks/test_steps.py::{name}", "group": "train",
         "stats": {"median": median}, "extra_info": extra} for name, median in medians.items()]}))
    return path


def bench_rows(backend_name, ms, status="ok", error=None, modes=("train", "infer")):
    failed = status != "ok"
    return [{"backbone": "vgg16", "mode": mode, "backend": backend_name, "step_ms_median": None if failed else ms,
             "images_per_s": None if failed else 2000 / ms, "status": status, "error": error} for mode in modes]


def test_bench_compare_prints_the_ratios(tmp_path):
    a = pytest_benchmark_file(tmp_path / "a.json", {"test_step[vgg16-train]": 0.1, "test_step[tiny-train]": 0.02})
    b = pytest_benchmark_file(tmp_path / "b.json", {"test_step[vgg16-train]": 0.05, "test_step[x-infer]": 0.01})
    rows = {row["name"]: row for row in files.compare_rows(files.load_results(a), files.load_results(b))}
    assert rows["test_step[vgg16-train]"]["ratio"] == pytest.approx(0.5)
    assert rows["test_step[vgg16-train]"]["a_ms"] == pytest.approx(100)
    assert rows["test_step[tiny-train]"]["note"] == "only in A"
    assert rows["test_step[x-infer]"]["note"] == "only in B"
    result = zoo_cli("bench", "compare", a, b)
    assert result.exit_code == 0, result.output  # a slower B never fails: it only reports
    assert re.search(r"test_step\[vgg16-train\] .* 100\.00 .* 50\.00 .* 0\.500 .* 2\.00x faster", result.stdout)
    assert "1 benchmarks in both files; geometric mean of B/A: 0.500" in result.stdout


def test_compare_zoo_bench_rows_across_backends(tmp_path):
    a, b = tmp_path / "tf.json", tmp_path / "torch.json"
    a.write_text(json.dumps(bench_rows("tensorflow", 50.0)))
    b.write_text(json.dumps(bench_rows("torch", 150.0)))
    compared = files.compare_rows(files.load_results(a), files.load_results(b))
    assert [(row["name"], row["ratio"]) for row in compared] == [("vgg16 train", 3.0), ("vgg16 infer", 3.0)]
    # Rows of several backends in one file (from --backends) are told apart by backend.
    both = tmp_path / "both.json"
    both.write_text(json.dumps(bench_rows("tensorflow", 50.0) + bench_rows("torch", 150.0)))
    assert set(files.load_results(both)) == {"vgg16 train backend=tensorflow", "vgg16 infer backend=tensorflow",
                                             "vgg16 train backend=torch", "vgg16 infer backend=torch"}


def test_an_old_file_with_error_rows_reads_as_failed(tmp_path):
    """zoo bench wrote status "error" before it said "failed": such files still compare."""
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(bench_rows("tensorflow", 50.0, modes=["infer"])
                              + bench_rows("tensorflow", 0, "error", "ResourceExhaustedError: OOM", ["train"])
                              + bench_rows("tensorflow", 50.0, modes=["train-full"])))
    new.write_text(json.dumps(bench_rows("tensorflow", 150.0, modes=["infer", "train"])
                              + bench_rows("tensorflow", 0, "failed", "RuntimeError: boom", ["train-full"])))
    compared = {row["name"]: row for row in files.compare_rows(files.load_results(old), files.load_results(new))}
    assert {name: (row["ratio"], row["note"]) for name, row in compared.items()} == {
        "vgg16 infer": (3.0, ""), "vgg16 train": (None, "failed: ResourceExhaustedError: OOM"),
        "vgg16 train-full": (None, "failed: RuntimeError: boom")}
    result = zoo_cli("bench", "compare", old, new)
    assert result.exit_code == 0, result.output
    assert "failed: ResourceExhaustedError: OOM" in result.stdout and "failed: RuntimeError: boom" in result.stdout
    assert "1 benchmarks in both files; geometric mean of B/A: 3.000" in result.stdout
    assert settings.is_failed({"status": "error"}) and settings.is_failed({"status": "failed"})


@pytest.mark.parametrize("args", [["--compare", "{a}", "{b}"], ["vgg16", "--steps", "2", "--compare={a}", "{b}"]])
def test_the_old_compare_switch_says_where_it_moved(tmp_path, args):
    a = pytest_benchmark_file(tmp_path / "a.json", {"test_step[vgg16-train]": 0.1})
    result = zoo_cli("bench", *(arg.format(a=a, b=a) for arg in args))
    assert result.exit_code == 2
    assert result.output.splitlines() == [MOVED]


def test_compare_rejects_other_files(tmp_path):
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    result = zoo_cli("bench", "compare", other, other)
    assert result.exit_code == 2 and "neither pytest-benchmark JSON" in result.output


def test_the_benchmark_suite_imports_only_the_measuring_part():
    found = {name for path in (ROOT / "benchmarks").glob("*.py")
             for name in re.findall(r"^\s*(?:from|import)\s+(zoo\.benchmark\S*)", path.read_text(), re.MULTILINE)}
    assert found == {"zoo.benchmark.measure", "zoo.benchmark.settings"}  # none of the command code


def test_only_backend_py_imports_a_backend_framework():
    """zoo runs under KERAS_BACKEND=torch or jax: no TensorFlow-only (or torch-only) code paths."""
    package = Path(zoo.__file__).parent
    pattern = re.compile(r"^\s*(import|from)\s+(tensorflow|torch|jax)\b", re.MULTILINE)
    offenders = [str(path.relative_to(package)) for path in package.rglob("*.py")
                 if path.name != "backend.py" and pattern.search(path.read_text())]
    assert offenders == []


def test_a_random_batch_is_drawn_in_the_models_dtype_without_a_float64_copy():
    """Timing's random batch: float32 as the model takes it, never a float64 draw cast down,
    which held three times the batch for a moment (#24: a large --batch-size was killed)."""
    import tracemalloc

    import keras

    model = keras.Sequential([keras.Input((64, 64, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    tracemalloc.start()
    try:
        images, labels = timing.random_batch(model, 64, 10)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert images.dtype == "float32" and images.shape == (64, 64, 64, 3) and labels.dtype == "int32"
    assert 0 <= images.min() and images.max() <= 255
    assert peak < 1.2 * images.nbytes, f"peak {peak:,} bytes for a batch of {images.nbytes:,}"
