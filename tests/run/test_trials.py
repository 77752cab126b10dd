"""Trials as a grid (backbone x dataset x seed) on every executor, resuming, and the summary."""

import json
import math
import os
import signal
import subprocess
import time

import pandas as pd
import pytest

from zoo.core.recipe import Recipe
from zoo.data.datasets import DatasetSpec
from zoo.results.report import summary_frame
from zoo.training.trials import Trial

from ..conftest import TESTS, ZOO
from ..dataset_files import write_mnist_npz

pytestmark = pytest.mark.shared_store  # no test here looks at the feature store

GRID_PLUGIN = TESTS / "plugins" / "grid.py"
GRID = ["--dataset", "synthetic", "--limit", "200", "--repeats", "2", "--epochs", "1", "--weights", "none"]


def ok_rows(folder):
    rows = json.loads((folder / "results.json").read_text())
    return {r["trial"]: r for r in rows if r["status"] == "ok"}, {r["trial"]: r for r in rows if r["status"] != "ok"}


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """The system temp folder, for this test alone: where --executor process makes its work folder."""
    import tempfile

    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def work_folders(scratch) -> list[str]:
    """What --executor process left in the temp folder (its work folders are zoo-work-*)."""
    return [p.name for p in scratch.glob("zoo-work-*")]


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The reference: 2 backbones x 2 seeds, one after another in this process."""
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path_factory.mktemp("local")
    zoo = Path(sys.executable).with_name("zoo")
    done = subprocess.run([str(zoo), "--plugin", str(GRID_PLUGIN), "compare", "grid-a", "grid-b", *GRID,
                           "--output", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "mean ± standard deviation" in done.stdout
    return out


def same_grid(folder, reference):
    ok, _ = ok_rows(folder)
    expected, _ = ok_rows(reference)
    assert sorted(ok) == sorted(expected) == ["grid-a|synthetic|seed 0", "grid-a|synthetic|seed 1",
                                              "grid-b|synthetic|seed 0", "grid-b|synthetic|seed 1"]
    for key, row in ok.items():
        assert row["trainable_params"] == expected[key]["trainable_params"]
        assert row["test_accuracy"] == pytest.approx(expected[key]["test_accuracy"], abs=0.02), key
    summary, reference_summary = (pd.read_csv(f / "summary.csv").set_index("backbone") for f in (folder, reference))
    assert list(summary["n"].sort_index()) == [2, 2]
    pd.testing.assert_series_equal(summary["test_accuracy_mean"].sort_index(),
                                   reference_summary["test_accuracy_mean"].sort_index(), atol=0.02)


@pytest.mark.slow  # trial processes, and a reference grid in a fresh process
def test_process_executor_gives_the_same_grid_and_survives_a_killed_trial(run_zoo, local_run, tmp_path, scratch):
    result = run_zoo("--plugin", GRID_PLUGIN, "compare", "grid-a", "grid-crash", "grid-b", *GRID,
                     "--executor", "process", "--jobs", "2", "--output", tmp_path, check=1)
    same_grid(tmp_path, local_run)
    _, failed = ok_rows(tmp_path)
    assert {r["error"] for r in failed.values()} == {"the trial's process was killed by SIGKILL"}
    assert sorted(failed) == ["grid-crash|synthetic|seed 0", "grid-crash|synthetic|seed 1"]
    assert "grid-crash synthetic seed 0 failed: the trial's process was killed by SIGKILL" in result.stderr
    assert (tmp_path / "grid-a-synthetic-seed1" / "grid-a.keras").is_file()
    assert work_folders(scratch) == [], "the work files are cleaned up"


@pytest.mark.slow  # a local Ray instance
def test_ray_executor_gives_the_same_grid_and_survives_a_killed_trial(run_zoo, local_run, tmp_path):
    pytest.importorskip("ray", reason="the ray extra: pip install -e '.[ray]'")
    result = run_zoo("--plugin", GRID_PLUGIN, "compare", "grid-a", "grid-crash", "grid-b", *GRID, "--executor",
                     "ray", "--output", tmp_path, check=1)
    same_grid(tmp_path, local_run)
    ok, failed = ok_rows(tmp_path)
    assert sorted(failed) == ["grid-crash|synthetic|seed 0", "grid-crash|synthetic|seed 1"]
    assert all("WorkerCrashedError" in r["error"] and r["error"].endswith("(on each of 2 attempts)")
               for r in failed.values())
    # The retry is said, in the progress and in the row.
    assert [r["attempts"] for r in failed.values()] == [2, 2] and {r["attempts"] for r in ok.values()} == {1}
    assert "grid-crash synthetic seed 0: the trial's Ray worker failed: " in result.stderr
    assert "running it once more." in result.stderr


@pytest.mark.slow  # a signal to a fresh process
def test_ctrl_c_under_process_ends_the_running_trials_and_keeps_the_finished_ones(tmp_path):
    pid_file, out = tmp_path / "stalled.pid", tmp_path / "run"
    command = [str(ZOO), "--plugin", str(GRID_PLUGIN), "compare", "grid-a", "grid-stall", "--dataset", "synthetic",
               "--limit", "200", "--epochs", "1", "--weights", "none", "--executor", "process", "--jobs", "2",
               "--output", str(out)]
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "ZOO_TEST_STALL_FILE": str(pid_file), "TMPDIR": str(scratch)})
    try:
        # Wait until grid-a has finished and grid-stall's process is up (and stalled).
        deadline = time.monotonic() + 300
        while not (pid_file.exists() and (out / "results.json").exists() and '"ok"' in (out / "results.json").read_text()):
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the grid did not get going"
            time.sleep(0.5)
        run.send_signal(signal.SIGINT)  # to zoo alone, as `kill -INT` does: its trial processes get nothing
        _, stderr = run.communicate(timeout=120)  # zoo must not wait for the stalled trial
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, stderr
    assert f"Interrupted: results so far are in {out}/" in stderr
    rows = json.loads((out / "results.json").read_text())
    assert {r["trial"]: (r["status"], r["error"]) for r in rows} == {
        "grid-a|synthetic|seed 0": ("ok", None), "grid-stall|synthetic|seed 0": ("failed", "interrupted (Ctrl-C)")}
    with pytest.raises(ProcessLookupError):  # the stalled trial's process was ended with the run
        os.kill(int(pid_file.read_text()), 0)
    assert work_folders(scratch) == [], "the work files are cleaned up"


@pytest.mark.slow  # a long training run: five trials over four resumes
def test_resume_skips_finished_trials_and_keeps_every_earlier_result(run_zoo, tmp_path):
    args = ["--plugin", GRID_PLUGIN, "compare", "grid-a", "--dataset", "synthetic", "--limit", "200",
            "--weights", "none", "--output", tmp_path]
    run_zoo(*args, "--epochs", "1", "--seeds", "0", check=0)
    first, _ = ok_rows(tmp_path)
    result = run_zoo(*args, "--epochs", "1", "--seeds", "0,1", "--resume", check=0)
    assert "Resuming: 1 of 2 trials already done" in result.stderr
    rows, _ = ok_rows(tmp_path)
    assert sorted(rows) == ["grid-a|synthetic|seed 0", "grid-a|synthetic|seed 1"]
    # The finished trial was not run again: its row is the first run's, to the fit time.
    assert rows["grid-a|synthetic|seed 0"]["fit_seconds"] == first["grid-a|synthetic|seed 0"]["fit_seconds"]

    # Another seed into the same folder keeps the two before it, in the results, summary and curves;
    # --no-cache changes speed, not results, so it does not make the finished seeds run again.
    result = run_zoo(*args, "--epochs", "1", "--seeds", "0,1,2", "--no-cache", "--resume", check=0)
    assert "Resuming: 2 of 3 trials already done" in result.stderr
    second, rows = rows, ok_rows(tmp_path)[0]
    assert sorted(rows) == [f"grid-a|synthetic|seed {seed}" for seed in (0, 1, 2)]
    assert rows["grid-a|synthetic|seed 1"]["fit_seconds"] == second["grid-a|synthetic|seed 1"]["fit_seconds"]
    assert pd.read_csv(tmp_path / "summary.csv")["n"].tolist() == [3]
    assert "mean ± standard deviation" in result.stdout and "options" not in result.stdout
    assert len(json.loads((tmp_path / "histories.json").read_text())) == 3

    # Other options: the finished trial does not count as done.
    result = run_zoo(*args, "--epochs", "2", "--seeds", "0", "--resume", check=0)
    assert "Resuming: 0 of 1 trials already done" in result.stderr
    assert "1 finished trial(s) there ran under other options: running them again." in result.stderr
    rows, _ = ok_rows(tmp_path)
    assert len(rows) == 3 and rows["grid-a|synthetic|seed 0"]["epochs"] == 2
    assert rows["grid-a|synthetic|seed 1"]["epochs"] == 1
    # Trials under different options are never averaged together: the summary keeps them apart.
    summary = pd.read_csv(tmp_path / "summary.csv").set_index("options")
    assert summary["n"].to_dict() == {"epochs 1": 2, "epochs 2": 1}
    assert "epochs 1" in result.stdout and "epochs 2" in result.stdout

    # Rows from a zoo that recorded no trial key, seed or options count as done, as they did then.
    old = [{k: v for k, v in row.items() if k not in ("trial", "seed", "recipe")}
           for row in json.loads((tmp_path / "results.json").read_text()) if row["seed"] == 1]
    (tmp_path / "results.json").write_text(json.dumps(old))
    (tmp_path / "histories.json").write_text("{\"cut\": [0.1,")  # a run killed mid-write, long ago
    result = run_zoo(*args, "--epochs", "1", "--seeds", "0", "--resume", check=2)
    assert "histories.json is not valid JSON" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "histories.json").unlink()
    result = run_zoo(*args, "--epochs", "1", "--seeds", "0", "--resume", check=0)
    assert "Resuming: 1 of 1 trials already done" in result.stderr

    result = run_zoo("compare", "vgg16", "--resume", check=2)
    assert "--resume needs --output FOLDER" in result.stderr


def test_a_grid_of_datasets_reads_data_dir_where_it_means_something(run_zoo, tmp_path):
    # mnist reads its file from --data-dir; synthetic is generated and would refuse it alone.
    write_mnist_npz(tmp_path / "data" / "mnist.npz", n_train=60, n_test=20)
    result = run_zoo("--plugin", GRID_PLUGIN, "compare", "grid-a", "--dataset", "mnist,synthetic", "--data-dir",
                     tmp_path / "data", "--limit", "200", "--epochs", "1", "--weights", "none",
                     "--output", tmp_path / "run", check=0)
    rows, failures = ok_rows(tmp_path / "run")
    assert not failures and sorted(rows) == ["grid-a|mnist|seed 0", "grid-a|synthetic|seed 0"]
    assert rows["grid-a|mnist|seed 0"]["data_shape"] == "28x28x1"
    assert rows["grid-a|mnist|seed 0"]["test_images"] == 20, "mnist came from the file the test wrote"
    caption = " ".join(result.stdout.split())  # rich wraps the caption
    # Both datasets are named, each with its own recipe (synthetic recommends Adam), and the
    # caption says the data is synthetic although mnist comes first.
    assert "synthetic data" in caption
    assert "mnist: weights none, head dense, sgd lr 0.0001" in caption
    assert "synthetic: weights none, head dense, adam lr 0.001" in caption


def test_summary_on_known_numbers():
    rows = [{"backbone": "a", "dataset": "d", "status": "ok", "test_accuracy": acc, "train_step_ms": ms,
             "fit_seconds": 1.0} for acc, ms in ((0.5, 10.0), (0.7, 14.0), (0.6, 12.0))]
    rows += [{"backbone": "a", "dataset": "d", "status": "failed", "test_accuracy": None, "train_step_ms": None,
              "fit_seconds": None},
             {"backbone": "b", "dataset": "d", "status": "ok", "test_accuracy": 0.9, "train_step_ms": 5.0,
              "fit_seconds": 2.0}]
    summary = summary_frame(rows).set_index("backbone")
    a, b = summary.loc["a"], summary.loc["b"]
    assert a["n"] == 3 and b["n"] == 1
    assert a["test_accuracy_mean"] == pytest.approx(0.6) and a["test_accuracy_std"] == pytest.approx(0.1)
    assert (a["test_accuracy_min"], a["test_accuracy_max"]) == (0.5, 0.7)
    assert a["train_step_ms_mean"] == pytest.approx(12.0) and a["train_step_ms_std"] == pytest.approx(2.0)
    assert math.isnan(b["test_accuracy_std"]), "one seed has no spread"
    assert list(summary.index) == ["b", "a"], "best mean accuracy first"


def test_a_trial_travels_as_json(tmp_path):
    spec = DatasetSpec("cifar100:coarse", "cifar100", "coarse", data_dir=str(tmp_path))
    trial = Trial("vgg16", spec, 3, Recipe(epochs=2, head="bn", limit=50), folder=str(tmp_path / "t"),
                  plugins=("my_plugin.py",))
    assert Trial.from_json(json.loads(json.dumps(trial.to_json()))) == trial
    tuned = Trial("vgg16", spec, 0, Recipe(lr=(1e-3, 1e-2), dropout=(0.2, 0.5), tune=None))
    assert Trial.from_json(json.loads(json.dumps(tuned.to_json()))) == tuned, "candidate lists come back as tuples"
    assert trial.key == "vgg16|cifar100:coarse|seed 3"
    # A folder name: readable, with a hash of the key where characters were replaced, so that
    # folder:~/x and folder:/x do not meet.
    assert trial.slug.startswith("vgg16-cifar100_coarse-seed3-") and len(trial.slug) == 38
    home, root = (Trial("vgg16", DatasetSpec(f"folder:{path}", "folder", path=path), 0, Recipe()).slug
                  for path in ("~/x", "/x"))
    assert home != root
