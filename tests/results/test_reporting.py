"""Where results go: report.html, confusion matrices, models kept on purpose, TensorBoard, MLflow."""

import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import pandas as pd
import pytest

from zoo.results.plots import pareto_front

from ..conftest import TESTS, invoke_zoo, shared_store
from ..dataset_files import write_cifar10

GRID = TESTS / "plugins" / "grid.py"

pytestmark = pytest.mark.shared_store  # no test here looks at the feature store
QUICK = ("--weights", "none", "--epochs", "2", "--batch-size", "16", "--optimizer", "adam", "--lr", "0.003")


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    return write_cifar10(tmp_path_factory.mktemp("cifar"), n_train=80, n_test=30)


def compare(run_zoo, cifar, out, *extra, check=0, env=None):
    return run_zoo("--plugin", GRID, "compare", "grid-a", "grid-b", "--data-dir", cifar, *QUICK,
                   "--output", out, *extra, check=check, env=env)


# Two runs that several tests read (and none writes to), so that the module trains each once.
@pytest.fixture(scope="module")
def kept_all(cifar, tmp_path_factory):
    """grid-a and grid-b, seed 0, with every model kept (--save-models all) and TensorBoard logs."""
    out = tmp_path_factory.mktemp("kept-all")
    compare(invoke_zoo, cifar, out, "--save-models", "all", "--tensorboard",
            env={"ZOO_CACHE": str(shared_store(tmp_path_factory))})
    return out


@pytest.fixture(scope="module")
def resumed(kept_all, cifar, tmp_path_factory):
    """``kept_all`` copied, then resumed with a second seed under the default --save-models best."""
    out = tmp_path_factory.mktemp("resumed") / "run"
    shutil.copytree(kept_all, out)
    compare(invoke_zoo, cifar, out, "--seeds", "0,1", "--resume", env={"ZOO_CACHE": str(shared_store(tmp_path_factory))})
    return out


class Tables(HTMLParser):
    """Every <table> of a page: its attributes, and its rows as lists of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables, self.cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"attrs": dict(attrs), "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append({"attrs": dict(attrs), "cells": []})
        elif tag in ("td", "th") and self.tables:
            self.cell = ""

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1]["rows"][-1]["cells"].append(self.cell.strip())
            self.cell = None


def tables(html: str) -> list[dict]:
    parser = Tables()
    parser.feed(html)
    return parser.tables


def test_the_report_holds_every_trial_and_each_confusion_matrix_counts_the_test_split(resumed):
    # Two backbones, two seeds (the second seed resumed into the folder).
    rows = json.loads((resumed / "results.json").read_text())
    page = tables((resumed / "report.html").read_text())
    [results] = [t for t in page if t["attrs"].get("id") == "results"]
    body = [r for r in results["rows"] if r["cells"] and r["attrs"].get("data-trial")]
    assert sorted(r["attrs"]["data-trial"] for r in body) == sorted(row["trial"] for row in rows)
    for row in rows:
        [cells] = [r["cells"] for r in body if r["attrs"]["data-trial"] == row["trial"]]
        # The test accuracy and its 95% Wilson interval over the test images.
        assert cells[0] == row["backbone"] and cells[4] == \
            f"{row['test_accuracy']:.2%} ({row['test_accuracy_low']:.1%}-{row['test_accuracy_high']:.1%})".replace("%-", "-", 1)
    matrices = [t for t in page if t["attrs"].get("class") == "confusion"]
    assert sorted(t["attrs"]["data-trial"] for t in matrices) == sorted(row["trial"] for row in rows)
    for table in matrices:
        counts = [[int(c) for c in r["cells"][1:-1]] for r in table["rows"][1:]]
        assert sum(map(sum, counts)) == int(table["attrs"]["data-test-images"]) == 30
    # The same in the files, and per-class accuracy that adds up to the test accuracy.
    confusion = json.loads((resumed / "confusion.json").read_text())
    per_class = pd.read_csv(resumed / "per_class.csv")
    for row in rows:
        matrix = confusion[row["trial"]]["matrix"]
        assert sum(map(sum, matrix)) == row["test_images"] == 30
        assert sum(matrix[i][i] for i in range(len(matrix))) / 30 == pytest.approx(row["test_accuracy"], abs=1e-6)
        mine = per_class[per_class["trial"] == row["trial"]]
        assert mine["images"].sum() == 30 and mine["correct"].sum() / 30 == pytest.approx(row["test_accuracy"], abs=1e-6)
    assert "Over seeds" in (resumed / "report.html").read_text()


@pytest.mark.slow  # a browser process
@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                    reason="no Chromium here (apt-get install chromium)")
def test_the_report_opens_in_a_browser_without_errors(kept_all):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    opened = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                             "--dump-dom", (kept_all / "report.html").as_uri()],
                            capture_output=True, text=True, timeout=120)
    assert opened.returncode == 0, opened.stderr[-2000:]
    [results] = [t for t in tables(opened.stdout) if t["attrs"].get("id") == "results"]
    assert len([r for r in results["rows"] if r["attrs"].get("data-trial")]) == 2
    assert "CONSOLE" not in opened.stderr and "Uncaught" not in opened.stderr


def kept_models(folder) -> list[str]:
    """The .keras files under ``folder``, by their path relative to it (as rows name them)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.keras"))


@pytest.mark.parametrize("save, kept", [pytest.param("none", 0, marks=pytest.mark.slow),  # quick: best, all
                                        ("best", 1), ("all", 2)])
def test_save_models_keeps_what_it_says(run_zoo, cifar, tmp_path, kept_all, save, kept):
    folder = kept_all if save == "all" else tmp_path  # all: the module's run
    if save != "all":
        compare(run_zoo, cifar, folder, "--save-models", save)
    rows = json.loads((folder / "results.json").read_text())
    models = kept_models(folder)
    assert len(models) == kept
    assert sorted(row["model"] for row in rows if row["model"]) == models
    if save == "best":  # the best on validation: the test split chooses nothing
        best = max(rows, key=lambda row: row["best_val_accuracy"])
        assert models == [best["model"]]


def test_save_models_best_keeps_the_best_on_validation_where_test_disagrees():
    """Three finished trials of one dataset: ``b`` is best on validation, ``c`` on test. The model
    kept is ``b``'s; on main it was ``c``'s, the one the test images happened to suit."""
    from zoo.core.rows import Status, TrialRow
    from zoo.results.output import best_models_only

    def row(name, val, test):
        return TrialRow(backbone=name, dataset="folder:x", seed=0, status=Status.OK, trial=f"{name}|folder:x|seed 0",
                        best_val_accuracy=val, test_accuracy=test, model=f"{name}.keras")

    rows = [row("a", 0.70, 0.70), row("b", 0.90, 0.60), row("c", 0.80, 0.95)]
    beaten = best_models_only(rows, {r.trial for r in rows})
    assert sorted(beaten) == ["a.keras", "c.keras"]
    assert [r.model for r in rows] == [None, "b.keras", None]


def test_a_kept_model_leaves_its_optimizer_state_out_unless_asked(run_zoo, cifar, tmp_path, kept_all):
    import keras

    import zoo
    from zoo.plugins import import_plugin

    from ..conftest import registered

    lean, full = kept_all, tmp_path / "full"
    # grid-b alone: the one model compared (kept_all holds the lean grid-b.keras).
    run_zoo("--plugin", GRID, "compare", "grid-b", "--data-dir", cifar, *QUICK, "--output", full,
            "--save-models", "all", "--save-optimizer", check=0)
    # Adam keeps two slots per trainable weight: the full model is larger by about that much.
    assert (full / "grid-b.keras").stat().st_size > (lean / "grid-b.keras").stat().st_size + 1000
    with registered(import_plugin(str(GRID)), "grid-test-plugin"):
        model = keras.saving.load_model(lean / "grid-b.keras")
    assert getattr(model, "optimizer", None) is None, "no optimizer (nor its state) was saved"
    row = next(r for r in json.loads((lean / "results.json").read_text()) if r["backbone"] == "grid-b")
    data = zoo.load_dataset("cifar10", cifar)
    predicted = model.predict(data.x_test, verbose=0).argmax(axis=-1)
    assert (predicted == data.y_test).mean() == pytest.approx(row["test_accuracy"], abs=1e-6)


def test_tensorboard_writes_a_run_per_trial(kept_all):
    import tensorflow as tf

    # The module's run wrote the logs (--tensorboard): two trials fewer to train here.
    runs = sorted(p.name for p in (kept_all / "tensorboard").iterdir())
    assert runs == ["grid-a-cifar10-seed0", "grid-b-cifar10-seed0"]  # one run per trial
    events = sorted((kept_all / "tensorboard" / runs[0] / "validation").glob("events.out.tfevents.*"))
    tags = {value.tag for path in events for record in tf.data.TFRecordDataset(str(path))
            for value in tf.compat.v1.Event.FromString(record.numpy()).summary.value}
    assert "epoch_accuracy" in tags


@pytest.mark.slow  # fresh trial processes
def test_mlflow_gets_a_run_per_trial_from_the_process_executor(run_zoo, cifar, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)  # MLflow keeps a SQLite store's artifacts under ./mlruns
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # Two rates: the trial processes send back every candidate and the test predictions too.
    compare(run_zoo, cifar, tmp_path / "out", "--mlflow", uri, "--executor", "process", "--lr", "0.003,0.01")
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("cifar10")  # the dataset's name by default
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(run.data.params["backbone"] for run in runs) == ["grid-a", "grid-b"]
    results = {r["backbone"]: r for r in json.loads((tmp_path / "out" / "results.json").read_text())}
    for run in runs:
        row = results[run.data.params["backbone"]]
        assert run.data.params["dataset"] == "cifar10" and run.data.params["seed"] == "0"
        assert run.data.params["optimizer"] == "adam" and run.data.params["epochs"] == "2"
        assert run.data.metrics["test_accuracy"] == pytest.approx(row["test_accuracy"])
        assert run.data.metrics["test_accuracy_low"] == pytest.approx(row["test_accuracy_low"])
        assert run.data.params["lr"] == str(row["lr"]) and run.data.params["lr_candidates"] == "(0.003, 0.01)"
        assert run.data.tags["backend"] == row["backend"] and run.data.tags["zoo.kind"] == "compare"
        steps = client.get_metric_history(run.info.run_id, "epoch_val_accuracy")
        assert [m.step for m in steps] == [1, 2]
        assert run.info.status == "FINISHED"
        assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"curves.png", "confusion.json",
                                                                             "predictions.csv", "tuning.csv"}
    assert len(pd.read_csv(tmp_path / "out" / "tuning.csv")) == 4  # two backbones, two rates each
    assert all((tmp_path / "out" / f"{name}-cifar10-seed0" / "predictions.csv").is_file() for name in results)
    # zoo rank's scores go to the same experiment.
    run_zoo("--plugin", GRID, "rank", "grid-a", "--data-dir", cifar, "--weights", "none", "--mlflow", uri,
            "--output", tmp_path / "out", check=0)
    ranked = [run for run in client.search_runs([experiment.experiment_id]) if run.data.tags["zoo.kind"] == "rank"]
    assert len(ranked) == 1 and {"logme", "linear_probe"} <= set(ranked[0].data.metrics)


def test_mlflow_without_the_extra_is_one_line(run_zoo, cifar, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if it were not installed: importing it fails
    result = compare(run_zoo, cifar, tmp_path, "--mlflow", check=2)
    assert result.stderr.strip() == 'Error: --mlflow needs MLflow: pip install "zoo[mlflow]".'
    assert not (tmp_path / "results.json").exists()


def test_the_pareto_front_is_what_nothing_beats():
    cost, accuracy = [10, 20, 30, 15, 40], [50, 70, 60, 40, 80]
    # 15 ms at 40% is beaten by 10 ms at 50%; 30 ms at 60% by 20 ms at 70%.
    assert pareto_front(cost, accuracy) == [0, 1, 4]


def test_best_leaves_an_earlier_runs_models_alone(kept_all, resumed):
    before = kept_models(kept_all)
    assert before == ["grid-a.keras", "grid-b.keras"]
    # Resumed with another seed under the default (best): this run's beaten models go, not the earlier
    # ones. Paths, not names: seed 1's models are grid-a.keras and grid-b.keras too, in their folders.
    rows = json.loads((resumed / "results.json").read_text())
    assert len(rows) == 4
    after = kept_models(resumed)
    assert set(before) <= set(after), "the earlier run's models stay"
    assert after == sorted(row["model"] for row in rows if row["model"]), "every model on disk has its row"
    assert len([row for row in rows if row["seed"] == 1 and row["model"]]) <= 1, "of this run's, the best alone"


def test_mlflow_does_not_swallow_a_backbone_name(run_zoo, cifar, tmp_path):
    result = run_zoo("--plugin", GRID, "compare", "--mlflow", "grid-a", "grid-b", "--data-dir", cifar, *QUICK,
                     "--output", tmp_path, check=2)
    assert "--mlflow grid-a: give a tracking URI" in result.stderr


def test_the_mlflow_variable_alone_without_mlflow_turns_logging_off_with_a_warning(monkeypatch):
    from zoo.run.plan import mlflow_uri

    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///nowhere.db")
    with pytest.warns(UserWarning, match="MLFLOW_TRACKING_URI is set but MLflow is not installed"):
        assert mlflow_uri(None) is None  # the trials run, logged nowhere


@pytest.mark.slow  # a trial; quick, the test above checks the plan's decision
def test_the_mlflow_variable_alone_without_mlflow_says_so_and_goes_on(run_zoo, cifar, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    result = run_zoo("--plugin", GRID, "compare", "grid-a", "--data-dir", cifar, *QUICK, "--output", tmp_path,
                     env={"MLFLOW_TRACKING_URI": "sqlite:///nowhere.db"}, check=0)
    assert "MLFLOW_TRACKING_URI is set but MLflow is not installed" in result.stderr


def test_the_curves_read_in_percent_with_whole_epochs_and_a_legend_beside_them():
    import matplotlib.pyplot as plt

    from zoo.results.plots import curves_figure

    one_epoch = {"a": {"loss": [1.2], "val_loss": [1.1], "accuracy": [0.4], "val_accuracy": [0.35]}}
    fig = curves_figure(one_epoch)
    try:
        loss_ax, acc_ax = fig.axes
        for ax in (loss_ax, acc_ax):
            ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
            assert ticks == [1.0], "one epoch: one whole tick, not 0.96 to 1.04"
        assert acc_ax.get_ylim() == (0, 100) and max(acc_ax.lines[0].get_ydata()) == pytest.approx(40)
        legend = acc_ax.get_legend()
        fig.canvas.draw()
        box = legend.get_window_extent()
        assert box.x0 >= acc_ax.get_window_extent().x1, "the legend stands beside the plot, on no line"
    finally:
        plt.close(fig)


def test_the_tradeoff_plot_draws_each_accuracys_wilson_interval():
    import matplotlib.pyplot as plt

    from zoo.core.rows import TrialRow, frame
    from zoo.results.plots import tradeoff_figure

    rows = [TrialRow(name, "d", trial=f"{name}|d|seed 0", test_accuracy=acc, test_accuracy_low=acc - 0.05,
                     test_accuracy_high=acc + 0.04, train_step_ms=ms, total_params=10)
            for name, acc, ms in (("a", 0.5, 1.0), ("b", 0.7, 2.0))]
    fig = tradeoff_figure(frame(rows))
    try:
        [ax] = fig.axes
        assert "95% Wilson interval" in [t.get_text() for t in ax.get_legend().get_texts()]
        [bars] = [c for c in ax.containers if c.get_label() == "95% Wilson interval"]
        spans = sorted((round(seg[0][1], 6), round(seg[1][1], 6)) for seg in bars.lines[2][0].get_segments())
        assert spans == [(45.0, 54.0), (65.0, 74.0)]  # percent, from low to high
    finally:
        plt.close(fig)


def test_the_tradeoff_plot_has_no_negative_axis_and_no_front_of_one_point():
    import matplotlib.pyplot as plt

    from zoo.core.rows import TrialRow, frame
    from zoo.results.plots import tradeoff_figure

    rows = [TrialRow("a", "d", trial="a|d|seed 0", test_accuracy=0.02, train_step_ms=1.0, total_params=10)]
    fig = tradeoff_figure(frame(rows))
    try:
        [ax] = fig.axes
        assert ax.get_xlim()[0] >= 0 and ax.get_ylim()[0] >= 0, "no negative step time or accuracy"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["trial (area: parameters)"]
    finally:
        plt.close(fig)


def test_a_failed_trial_keeps_its_error_in_a_column_of_its_own(run_zoo, cifar, tmp_path):
    from ..conftest import TINY_PLUGIN

    result = run_zoo("--plugin", GRID, "--plugin", TINY_PLUGIN, "compare", "tiny", "grid-a", "--data-dir", cifar,
                     *QUICK, "--freeze", "conv3", "--output", tmp_path, check=2)  # bad input for grid-a
    error = "layer 'conv3' is not in grid-a; `zoo layers grid-a` lists its layers."
    page = tables((tmp_path / "report.html").read_text())
    [results] = [t for t in page if t["attrs"].get("id") == "results"]
    header = results["rows"][0]["cells"]
    body = {r["cells"][0]: dict(zip(header, r["cells"])) for r in results["rows"][1:]}
    assert body["grid-a"]["status"] == "failed" and body["grid-a"]["test acc (95% CI)"] == ""
    assert body["grid-a"]["error"] == error
    assert body["tiny"]["error"] == "" and body["tiny"]["features"] in ("computed", "read from store")
    # The terminal table too: the error in its own column, the figures as dashes.
    table = " ".join(result.stdout.split())
    assert "│ error" in table or "error ┃" in table
    [line] = [line for line in result.stdout.splitlines() if line.startswith("│ grid-a")]
    assert line.split("│")[2].strip() == "-", "nothing but a dash in the input column"


def test_names_with_brackets_are_shown_as_written_not_taken_for_markup(run_zoo):
    # rich reads "[raw]" or "[tfds]" as a style tag and drops it: a folder named photos[raw], a
    # card's 'pip install "zoo[tfds]"'.
    from rich.console import Console

    from zoo.core.rows import RankRow, Status, TrialRow
    from zoo.results.report import rank_table, results_table, summary_table

    dataset = "folder:/data/photos[raw]"
    row = TrialRow("tiny", dataset, status=Status.OK, test_accuracy=0.5, weights="none", feature_cache="off [bold]",
                   data_source="/data/photos[raw]", epochs=1, batch_size=2, lr=0.1, optimizer="sgd", head="dense")
    console = Console(width=400, record=True)
    for table in (results_table([row]), summary_table([row]), rank_table([RankRow("tiny", dataset)])):
        console.print(table)
    shown = console.export_text()
    assert shown.count("photos[raw]") >= 3 and "off [bold]" in shown
    assert 'needs pip install "zoo[tfds]"' in run_zoo("datasets", check=0, env={"COLUMNS": "400"}).stdout
