"""No finished result is lost: reruns, two runs at once, kills, full or unwritable disks, bad files.

In process through click's CliRunner, with the tiny test backbone registered for this
module; the kill -9 test needs real processes.
"""

import errno
import json
import os
import signal
import subprocess
import time
from contextlib import contextmanager

import pytest
from click.testing import CliRunner

import zoo
from zoo.cli import cli
from zoo.core import files
from zoo.plugins import import_plugin
from zoo.results import output

from .conftest import TESTS, TINY_PLUGIN, ZOO, registered

pytestmark = pytest.mark.shared_store  # no test here looks at the feature store

GRID_PLUGIN = TESTS / "plugins" / "grid.py"
QUICK = ["--dataset", "synthetic", "--limit", "60", "--epochs", "1", "--weights", "none"]


@pytest.fixture(scope="module", autouse=True)
def tiny_backbones():
    with registered(import_plugin(str(TINY_PLUGIN)), "tiny-test-plugin"), \
            registered(import_plugin(str(GRID_PLUGIN)), "grid-test-plugin"):
        yield


def zoo_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def errors(result):
    return [line for line in result.stderr.splitlines() if line.startswith("Error:") or " failed:" in line]


def saved_rows(folder):
    return json.loads((folder / "results.json").read_text())


def test_a_folder_with_results_needs_resume_or_overwrite(tmp_path):
    first = zoo_cli("compare", "tiny", *QUICK, "--output", tmp_path)
    assert first.exit_code == 0, first.stderr
    before = (tmp_path / "results.json").read_text()

    again = zoo_cli("compare", "grid-a", *QUICK, "--output", tmp_path)
    assert again.exit_code == 2
    assert errors(again) == [f"Error: {tmp_path} already holds results of an earlier run: add --resume to keep "
                             "them and run only what is missing, --overwrite to replace them, or choose another "
                             "--output."]
    assert (tmp_path / "results.json").read_text() == before, "nothing earlier was touched"

    (tmp_path / "mine.keras").write_text("a model of the user's own")
    replaced = zoo_cli("compare", "grid-a", *QUICK, "--output", tmp_path, "--overwrite")
    assert replaced.exit_code == 0, replaced.stderr
    assert [r["backbone"] for r in saved_rows(tmp_path)] == ["grid-a"]
    assert sorted(p.name for p in tmp_path.glob("*.keras")) == ["grid-a.keras", "mine.keras"], \
        "no model of zoo's stays without its row, and a .keras file zoo did not write stays"
    assert zoo_cli("compare", "tiny", *QUICK, "--output", tmp_path, "--overwrite", "--resume").exit_code == 2


def test_an_output_that_cannot_be_written_is_refused_before_any_training(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a folder")
    result = zoo_cli("compare", "tiny", *QUICK, "--output", a_file)
    assert result.exit_code == 2
    assert errors(result) == [f"Error: --output {a_file} is a file: give a folder (it is created if missing)."]
    result = zoo_cli("compare", "tiny", *QUICK, "--output", a_file / "run")
    assert result.exit_code == 2 and errors(result)[0].startswith(f"Error: --output {a_file / 'run'} cannot be written")
    assert "tiny" not in result.stderr.replace(str(tmp_path), ""), "no trial started"


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs: too small for a model, big enough for the result files. Needs root."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_read_only_output_is_refused_before_any_training(small_disk):
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    result = zoo_cli("compare", "tiny", *QUICK, "--output", small_disk / "run")
    assert result.exit_code == 2
    assert errors(result) == [f"Error: --output {small_disk / 'run'} cannot be written (Read-only file system): "
                              "choose a folder you can write to."]


@pytest.mark.slow  # vgg16 trained and timed
def test_a_model_that_does_not_fit_loses_its_file_not_its_results(small_disk):
    # vgg16's model (60 MB) cannot fit; tiny's (100 KB) and the results can. The training
    # succeeded: its row keeps its figures, says why the model is missing, and zoo exits 1.
    result = zoo_cli("compare", "vgg16", "tiny", *QUICK, "--save-models", "all", "--output", small_disk)
    assert result.exit_code == 1
    [line] = [line for line in result.stderr.splitlines() if line.startswith("vgg16:")]
    assert line.startswith(f"vgg16: its model was not kept: could not write {small_disk / 'vgg16.keras'}: "
                           "No space left on device (") and line.endswith(" MB free).")
    rows = {r["backbone"]: r for r in saved_rows(small_disk)}
    assert rows["vgg16"]["status"] == "ok" and rows["vgg16"]["test_accuracy"] is not None
    assert rows["vgg16"]["model"] is None and rows["vgg16"]["error"] == line.removeprefix("vgg16: ")
    assert rows["tiny"]["status"] == "ok" and rows["tiny"]["model"] == "tiny.keras"
    assert not list(small_disk.glob(".*partial*")), "partial files are removed"
    assert not (small_disk / "vgg16.keras").exists()


def test_results_that_cannot_be_written_stay_in_memory_and_are_written_later(tmp_path, monkeypatch):
    real = files.write_text
    calls = {"results.json": 0}

    def full_once(path, text):
        if path.name == "results.json":
            calls["results.json"] += 1
            if calls["results.json"] == 1:
                raise files.write_error(path, OSError(errno.ENOSPC, "No space left on device"))
        real(path, text)

    monkeypatch.setattr("zoo.results.run_folder.write_text", full_once)
    result = zoo_cli("compare", "tiny", "grid-a", *QUICK, "--output", tmp_path, "--json")
    assert result.exit_code == 1
    [line] = errors(result)
    assert line.startswith(f"Error: could not write {tmp_path / 'results.json'}: No space left on device (")
    assert sorted(r["backbone"] for r in saved_rows(tmp_path)) == ["grid-a", "tiny"], "the first row was kept"
    assert [r["backbone"] for r in json.loads(result.stdout)] == ["tiny", "grid-a"]


def test_integers_stay_integers_when_a_trial_fails(tmp_path):
    result = zoo_cli("compare", "tiny", "grid-a", *QUICK, "--freeze", "conv3",
                     "--output", tmp_path)  # grid-a has no layer conv3: it fails
    assert result.exit_code == 2
    rows = {r["backbone"]: r for r in saved_rows(tmp_path)}
    assert rows["grid-a"]["status"] == "failed"
    tiny = rows["tiny"]
    for column in ("input_size", "total_params", "train_images", "freeze_index", "epochs", "batch_size"):
        assert type(tiny[column]) is int, (column, tiny[column])
    assert type(rows["grid-a"]["batch_size"]) is int and rows["grid-a"]["input_size"] is None
    tiny_line = next(line for line in (tmp_path / "results.csv").read_text().splitlines() if line.startswith("tiny,"))
    assert ",32," in tiny_line and ",32.0," not in tiny_line and f",{tiny['total_params']}," in tiny_line
    assert "(from" not in result.stdout, "the data was not adapted: the table says nothing of it"
    resumed = zoo_cli("compare", "tiny", *QUICK, "--freeze", "conv3", "--output", tmp_path, "--resume")
    assert resumed.exit_code == 0
    assert type(saved_rows(tmp_path)[0]["total_params"]) is int


def test_a_held_folder_is_refused_naming_the_holder_and_a_stale_lock_is_taken(tmp_path):
    with output.hold(tmp_path):
        result = zoo_cli("compare", "tiny", *QUICK, "--output", tmp_path)
    assert result.exit_code == 2
    [line] = errors(result)
    assert line.startswith(f"Error: {tmp_path} is in use by another zoo run (pid {os.getpid()} on ")
    assert line.endswith("): wait for it to finish, or choose another --output.")
    # A run killed with -9 leaves its lock file, but no longer holds it.
    (tmp_path / output.LOCK).write_text("pid 999999 on elsewhere, since long ago\n")
    assert zoo_cli("compare", "tiny", *QUICK, "--output", tmp_path).exit_code == 0
    assert (tmp_path / output.LOCK).read_text() == "", "released at exit: no holder named"


def test_resume_reruns_a_trial_whose_model_is_truncated(tmp_path):
    assert zoo_cli("compare", "tiny", *QUICK, "--output", tmp_path).exit_code == 0
    model = tmp_path / "tiny.keras"
    model.write_bytes(model.read_bytes()[:1000])  # as a kill mid-write by an older zoo left it
    result = zoo_cli("compare", "tiny", *QUICK, "--output", tmp_path, "--resume")
    assert result.exit_code == 0
    assert f"{model} is missing or incomplete: running its trial again." in result.stderr
    assert "Resuming: 0 of 1 trials already done" in result.stderr
    import keras

    assert keras.saving.load_model(model).name == "zoo_tiny"


@pytest.mark.parametrize("content", ["{}", "null", '[{"backbone": "tiny"}]', '[1, 2]',
                                     '[{"backbone": "tiny", "dataset": "synthetic", "batch_size": 32.5}]'])
def test_a_results_file_of_the_wrong_shape_is_one_line_under_resume(tmp_path, content):
    (tmp_path / "results.json").write_text(content)
    result = zoo_cli("compare", "tiny", *QUICK, "--output", tmp_path, "--resume")
    assert result.exit_code == 2
    [line] = errors(result)
    assert line.startswith(f"Error: {tmp_path / 'results.json'} is not what zoo writes (")
    assert line.endswith("): move it away to run every trial again, or resume into another --output folder.")


@pytest.mark.parametrize("args, message", [
    (["vgg16[/x]"], "Error: no backbone matches vgg16[/x] within the limits"),  # rich markup, as typed
    (["tiny", "--lr", "nan"], "Error: --lr: give a finite number, not nan."),
    (["tiny", "vgg16", "--input-size", "16"], "Error: input size 16 is below vgg16's minimum of 32"),
])
def test_more_bad_input_is_one_line_before_any_training(tmp_path, args, message):
    result = zoo_cli("compare", *args, *QUICK, "--output", tmp_path)
    assert result.exit_code == 2
    [line] = errors(result)
    assert line.startswith(message)
    assert not (tmp_path / "results.json").exists(), "refused before any trial"


def test_a_long_folder_dataset_gets_a_short_unique_trial_folder(tmp_path):
    from zoo.core.recipe import Recipe
    from zoo.data.datasets import DatasetSpec
    from zoo.training.trials import Trial

    deep = "/".join(["a-very-long-folder-name"] * 20)
    slugs = {Trial("tiny", DatasetSpec(f"folder:{deep}{suffix}", "folder", path=deep + suffix), 0, Recipe()).slug
             for suffix in ("/x", "/y")}
    assert len(slugs) == 2 and all(len(slug) <= 80 for slug in slugs)


@pytest.mark.parametrize("args, message", [
    (["--jobs", "2"], "Error: --jobs applies to --executor process only: add --executor process, or leave --jobs out."),
    (["--executor", "process", "--address", "auto"],
     "Error: --address applies to --executor ray only: add --executor ray, or leave --address out."),
    (["--seeds", "1,2", "--repeats", "2"], "Error: give --seeds or --repeats, not both."),
    (["--weights", "w.h5", "--all"], "--weights w.h5: one weights file or preset folder cannot fit"),
])
def test_options_that_cannot_apply_are_refused(tmp_path, args, message):
    names = [] if "--all" in args else ["tiny"]
    result = zoo_cli("compare", *names, "--dataset", "synthetic", "--output", tmp_path, *args)
    assert result.exit_code == 2
    [line] = errors(result)
    assert line.startswith(message) or line.startswith("Error: " + message), line


def test_every_trial_failed_draws_no_empty_plots(tmp_path):
    result = zoo_cli("compare", "tiny", *QUICK, "--input-size", "16", "--freeze", "nosuch", "--output", tmp_path)
    assert result.exit_code == 2
    assert (tmp_path / "results.json").exists()
    assert not (tmp_path / "tradeoff.png").exists() and not (tmp_path / "curves.png").exists()


@contextmanager
def stalled_run(tmp_path, executor):
    """zoo, in a fresh process, running one trial that never ends; yields once the trial has started."""
    pid_file = tmp_path / "stalled.pid"
    run = subprocess.Popen([str(ZOO), "--plugin", str(GRID_PLUGIN), "compare", "grid-stall", *QUICK, "--executor",
                            executor, "--output", str(tmp_path / "run")], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env={**os.environ, "ZOO_TEST_STALL_FILE": str(pid_file)})
    try:
        deadline = time.monotonic() + 300
        while not pid_file.exists():
            assert run.poll() is None and time.monotonic() < deadline, "the trial did not start"
            time.sleep(0.5)
        yield run, pid_file
    finally:
        if run.poll() is None:
            run.kill()


@pytest.mark.slow  # signals to a fresh process
def test_kill_9_of_zoo_ends_its_trial_processes(tmp_path):
    with stalled_run(tmp_path, "process") as (run, pid_file):
        run.kill()  # kill -9: zoo gets no chance to clean up
        run.wait()
        child = int(pid_file.read_text())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if gone(child):
                break
            time.sleep(0.2)
        else:
            os.kill(child, signal.SIGKILL)
            pytest.fail("the trial's process outlived zoo")


def test_the_python_api_returns_the_results_frame_under_the_datasets_recipe(tmp_path):
    frame = zoo.compare(["tiny"], dataset="synthetic", weights=None, epochs=1, limit=60, output=tmp_path,
                        progress=False)
    assert list(frame["optimizer"]) == ["adam"], "synthetic recommends adam"
    assert frame["input_size"].dtype == "Int64"
    import pandas as pd

    assert list(frame.columns) == list(pd.read_csv(tmp_path / "results.csv").columns)
    with pytest.raises(zoo.BadInput, match=r"^--epochs: 0 is not in the range x>=1\.$"):
        zoo.compare(["tiny"], dataset="synthetic", epochs=0)
    with pytest.raises(zoo.BadInput, match="unknown recipe option 'epoch'"):
        zoo.compare(["tiny"], dataset="synthetic", epoch=1)
    nothing_written = zoo.compare("tiny", dataset="synthetic", weights=None, epochs=1, limit=60, progress=False)
    assert nothing_written["model"].isna().all()


@pytest.mark.slow  # signals to a fresh process
def test_a_second_ctrl_c_while_zoo_saves_does_not_lose_the_results(tmp_path):
    pid_file, out = tmp_path / "stalled.pid", tmp_path / "run"
    run = subprocess.Popen([str(ZOO), "--plugin", str(GRID_PLUGIN), "compare", "grid-a", "grid-stall", *QUICK,
                            "--executor", "process", "--jobs", "2", "--output", str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "ZOO_TEST_STALL_FILE": str(pid_file), "ZOO_TEST_STALL_STUBBORN": "1"})
    try:
        deadline = time.monotonic() + 300
        while not (pid_file.exists() and (out / "results.json").exists()):
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the grid did not get going"
            time.sleep(0.5)
        run.send_signal(signal.SIGINT)
        time.sleep(2)  # zoo is now waiting for the stubborn trial process to end
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, stderr
    assert "Aborted!" not in stderr and "Interrupted again" in stderr
    assert f"Interrupted: results so far are in {out}/" in stderr
    assert {r["backbone"]: r["status"] for r in saved_rows(out)} == {"grid-a": "ok", "grid-stall": "failed"}


def test_the_python_bench_returns_its_rows():
    frame = zoo.bench("tin*", steps=1, warmup=0, batch_size=2, progress=False)  # wildcards, as zoo bench takes
    assert list(frame["mode"]) == ["train", "infer"] and list(frame["status"]) == ["ok", "ok"]
    assert (frame["images_per_s"] > 0).all()
    with pytest.raises(zoo.BadInput, match="input size 4 is below tiny's minimum of 8"):
        zoo.bench(["tiny"], input_size=4)


@pytest.mark.slow  # a local Ray instance in a fresh process
def test_kill_9_of_zoo_shuts_down_the_ray_instance_it_started(tmp_path):
    pytest.importorskip("ray", reason="the ray extra: pip install -e '.[ray]'")
    import psutil

    with stalled_run(tmp_path, "ray") as (run, _):
        time.sleep(2)  # Ray's agents are up by now
        started = {p: " ".join(p.cmdline())[:80] for p in psutil.Process(run.pid).children(recursive=True)
                   if "zoo.run.reaper" not in " ".join(p.cmdline())}
        assert len(started) >= 3, "Ray's GCS server, raylet and a worker at least"
        run.kill()
        run.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(gone(p.pid) for p in started):
            time.sleep(0.5)
        alive = [p for p in started if not gone(p.pid)]
    for process in alive:
        process.kill()
    assert not alive, [started[p] for p in alive]


def gone(pid: int) -> bool:
    """Ended: no such process, or a zombie waiting for whoever adopted it to reap it."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_json_stdout_holds_the_json_alone_when_a_download_is_attempted(tmp_path, monkeypatch):
    from .dataset_files import write_cifar10

    for proxy in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")  # a closed local port: the download fails at once
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("no_proxy", "")
    cifar = write_cifar10(tmp_path / "cifar", n_train=40, n_test=20)
    result = zoo_cli("compare", "vgg16", "--data-dir", cifar, "--limit", "20", "--epochs", "1",
                     "--output", tmp_path / "run", "--json")
    assert result.exit_code == 2
    assert "Downloading data from" in result.stderr, "Keras did try, and said so on stderr"
    [row] = json.loads(result.stdout)
    assert row["status"] == "failed" and "could not be downloaded" in row["error"]


@pytest.mark.parametrize("args", [
    ["--dataset", "cifar100:nonsense"],
    ["--dataset", "folder:/no/such"],
    ["--dataset", "mnist", "--data-dir", "/no/such"],
    ["--dataset", "cifar10", "--data-dir", "EMPTY"],  # refused once the files are read: after the folder is made
    ["--epochs", "0"],
])
def test_a_refused_run_leaves_no_output_folder_behind(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    args = [str(tmp_path / "empty") if arg == "EMPTY" else arg for arg in args]
    for command in ("compare", "rank"):
        result = zoo_cli(command, "tiny", *args, "--weights", "none")
        assert result.exit_code == 2 and len(errors(result)) == 1, (command, result.stderr)
        assert not (tmp_path / "zoo-runs").exists(), command


@pytest.mark.parametrize("command, args, message", [
    ("compare", ["--batch-size", "1000000"], "Error: --batch-size 1000000 is larger than synthetic's training split "
                                            "(48 images): give --batch-size 48 or less."),
    ("compare", ["--batch-size", "48", "--input-size", "65536"], "Error: --batch-size 48: a batch for tiny of 48 "
                                                                 "images of 65536x65536 needs "),
    ("bench", ["--batch-size", "100000", "--input-size", "2048"], "Error: --batch-size 100000: a batch for tiny of "
                                                                  "100,000 images of 2048x2048 needs 4,687.5 GB"),
])
def test_a_batch_that_cannot_fit_is_refused_before_it_is_allocated(tmp_path, monkeypatch, command, args, message):
    monkeypatch.chdir(tmp_path)
    result = zoo_cli(command, "tiny", *(QUICK if command == "compare" else []), *args)
    assert result.exit_code == 2, result.stderr
    [line] = errors(result)
    assert line.startswith(message) and "give --batch-size" in line
    assert not (tmp_path / "zoo-runs").exists()


def test_a_disk_full_before_the_run_is_one_line_naming_the_lock_and_the_free_space(small_disk):
    out = small_disk / "run"
    out.mkdir()
    with open(small_disk / "filler", "wb", buffering=0) as filler:  # the disk full to its last byte
        for chunk in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    filler.write(b"\0" * chunk)
            except OSError:
                pass
    result = zoo_cli("compare", "tiny", *QUICK, "--output", out)
    assert result.exit_code == 1
    assert errors(result) == [f"Error: could not write {out / '.zoo.lock'}: No space left on device (0.0 MB free)."]


def test_a_report_that_cannot_be_written_is_not_named_among_the_results(tmp_path, monkeypatch):
    def full(path, text):
        raise files.write_error(path, OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr("zoo.results.html_report.write_text", full)
    result = zoo_cli("compare", "tiny", *QUICK, "--output", tmp_path)
    assert result.exit_code == 1
    [said] = [line for line in result.stderr.splitlines() if line.startswith("Results in")]
    assert said == f"Results in {tmp_path}/ (results.json, results.csv, curves.png, tradeoff.png)"
