"""A comparison a user can trust: a learning rate chosen per backbone on validation, the linear
probe, intervals and ties, and the test images each backbone got wrong (issue 23)."""

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

import zoo
from zoo.scores.stats import holm, t_interval, wilson_interval
from zoo.training.tuning import TUNING_COLUMNS

from .conftest import TINY_PLUGIN, invoke_zoo, plugin_state, registered, shared_store
from .dataset_files import write_image_folder

pytestmark = pytest.mark.shared_store  # no test here looks at the feature store
QUICK = ("--weights", "none", "--epochs", "2", "--batch-size", "16", "--optimizer", "adam")


@pytest.fixture(scope="module")
def swapped(tmp_path_factory):
    """Two classes whose test folders are swapped: what validation (a part of train) rewards, the
    test split punishes. A rate that learns does well on validation and badly on test; a rate too
    small to learn anything does the opposite."""
    root = tmp_path_factory.mktemp("swapped")
    write_image_folder(root, classes=("a", "b"), per_class=24, size=(16, 16), splits=True)
    (root / "test" / "a").rename(root / "test" / "tmp")
    (root / "test" / "b").rename(root / "test" / "a")
    (root / "test" / "tmp").rename(root / "test" / "b")
    return f"folder:{root}"


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Four classes of PNGs, train and test folders."""
    root = tmp_path_factory.mktemp("photos")
    write_image_folder(root, classes=("cat", "dog", "fox", "owl"), per_class=16, size=(16, 16), splits=True)
    return f"folder:{root}"


def compare(dataset, out, *args, check=0, tmp_path_factory=None):
    env = {"ZOO_CACHE": str(shared_store(tmp_path_factory))} if tmp_path_factory else None
    return invoke_zoo("--plugin", TINY_PLUGIN, "compare", "--dataset", dataset, *QUICK, *args, "--output", out,
                      check=check, env=env)  # args last: they override QUICK


@pytest.fixture(scope="module")
def tuned(swapped, tmp_path_factory):
    """tiny with two rates and two dropouts on the swapped folder: 1e-7 learns nothing, 3e-2 learns
    the classes."""
    out = tmp_path_factory.mktemp("tuned")
    compare(swapped, out, "tiny", "--lr", "1e-7,3e-2", "--dropout", "0.2,0.5", "--epochs", "1",
            tmp_path_factory=tmp_path_factory)
    return out


def test_a_list_of_rates_chooses_on_validation_never_on_test(tuned, swapped, tmp_path):
    row = json.loads((tuned / "results.json").read_text())[0]
    tuning = pd.read_csv(tuned / "tuning.csv")
    by_lr = tuning.groupby("lr")["val_accuracy"].max()
    assert by_lr[3e-2] > by_lr[1e-7]
    chosen = tuning[tuning["chosen"]].iloc[0]
    assert row["lr"] == chosen["lr"] == 3e-2 and chosen["val_accuracy"] == by_lr[3e-2]
    # The rate that learns is the worse one on this test split: the rate alone shows it.
    alone = tmp_path / "alone"
    compare(swapped, alone, "tiny", "--lr", "1e-7", "--dropout", str(chosen["dropout"]), "--epochs", "1")
    untrained = json.loads((alone / "results.json").read_text())[0]
    assert untrained["test_accuracy"] > row["test_accuracy"], "choosing on test would have picked 1e-7"
    assert row["best_val_accuracy"] == pytest.approx(chosen["val_accuracy"])


def test_the_values_chosen_are_in_the_row_and_said_in_the_caption(tuned):
    frame = pd.read_csv(tuned / "results.csv")
    chosen = pd.read_csv(tuned / "tuning.csv").query("chosen").iloc[0]
    assert (frame.loc[0, "lr"], frame.loc[0, "dropout"]) == (chosen["lr"], chosen["dropout"])
    page = (tuned / "report.html").read_text()
    assert "lr chosen per backbone on validation from 1e-07, 0.03 and dropout chosen per backbone on " \
           "validation from 0.2, 0.5" in page


def test_tuning_csv_has_every_candidate(tuned):
    tuning = pd.read_csv(tuned / "tuning.csv")
    assert list(tuning.columns) == TUNING_COLUMNS
    assert sorted(zip(tuning["lr"], tuning["dropout"])) == [(1e-7, 0.2), (1e-7, 0.5), (3e-2, 0.2), (3e-2, 0.5)]
    assert tuning["chosen"].sum() == 1
    assert tuning.query("chosen")["val_accuracy"].iloc[0] == tuning["val_accuracy"].max()
    assert (tuning["backbone"] == "tiny").all() and (tuning["seed"] == 0).all()


@pytest.mark.slow  # two runs; quick, test_a_list_of_rates_chooses_on_validation_never_on_test runs a list and a rate alone
def test_a_candidate_trains_as_it_would_alone(photos, tmp_path):
    """Each candidate starts from the same weights and draws the same random numbers as a run of
    that rate alone: the list's row is the chosen rate's own result."""
    listed, alone = tmp_path / "listed", tmp_path / "alone"
    compare(photos, listed, "tiny", "--lr", "1e-2,1e-3")
    row = json.loads((listed / "results.json").read_text())[0]
    compare(photos, alone, "tiny", "--lr", str(row["lr"]))
    single = json.loads((alone / "results.json").read_text())[0]
    assert row["test_accuracy"] == pytest.approx(single["test_accuracy"], abs=1e-6)
    assert row["best_val_accuracy"] == pytest.approx(single["best_val_accuracy"], abs=1e-6)


@pytest.mark.slow  # three candidates; quick, the grid's tests cover the candidate loop Optuna feeds
def test_tune_draws_n_candidates_with_optuna(photos, tmp_path):
    out = tmp_path / "run"
    compare(photos, out, "tiny", "--tune", "3")
    tuning = pd.read_csv(out / "tuning.csv")
    assert len(tuning) == 3 and tuning["chosen"].sum() == 1
    assert tuning["lr"].between(1e-5, 1e-1).all() and tuning["dropout"].between(0, 0.7).all()
    assert len(set(tuning["lr"])) == 3
    assert "3 Optuna (TPE) candidates" in (out / "report.html").read_text()


@pytest.mark.parametrize("args, said", [
    (("--lr", "1e-3,x"), "--lr"),
    (("--lr", "1e-3,,1e-2"), "--lr"),
    (("--dropout", "0.2,1.5"), "--dropout"),
    (("--protocol", "linear-probe", "--lr", "1e-3,1e-2"), "--protocol linear-probe fits a logistic regression"),
    (("--protocol", "linear-probe", "--epochs", "3", "--head", "bn"), "leave out --epochs, --head (no epochs"),
    # #31: Optuna drew 0.00157 and 0.00258, and the rate given was dropped without a word.
    (("--tune", "2", "--lr", "1e-3"), "--tune 2 draws the learning rate and dropout itself: leave out --lr 0.001,"),
    (("--tune", "2", "--dropout", "0.3"), "leave out --dropout 0.3, or give a list to search between"),
])
def test_bad_candidate_lists_are_refused_in_one_line(photos, tmp_path, args, said):
    result = invoke_zoo("--plugin", TINY_PLUGIN, "compare", "tiny", "--dataset", photos, "--weights", "none", *args,
                        "--output", tmp_path / "run", check=2)
    assert said in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_folder_of_the_zoo_before_these_options_resumes_without_running_again():
    """The fingerprint --resume compares: the new options at their default leave it as it was."""
    from dataclasses import asdict

    from zoo.core.recipe import Recipe

    before = {k: v for k, v in asdict(Recipe()).items() if k not in ("protocol", "tune")}
    assert Recipe().fingerprint() == json.dumps(before, sort_keys=True, default=str)
    assert '"protocol": "linear-probe"' in Recipe(protocol="linear-probe").fingerprint()
    assert '"tune": 3' in Recipe(tune=3).fingerprint()
    assert '"lr": [0.001, 0.01]' in Recipe(lr=(1e-3, 1e-2)).fingerprint()


def test_wilson_interval_matches_a_hand_computation():
    for correct, n in ((535, 1000), (0, 20), (20, 20), (7, 13)):
        p, z = correct / n, 1.959963984540054
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        assert wilson_interval(correct, n) == pytest.approx((centre - half, centre + half), abs=1e-12)
    low, high = wilson_interval(535, 1000)
    assert (round(low, 3), round(high, 3)) == (0.504, 0.566)  # "about ±3 points" on 1,000 images


def test_holm_matches_its_definition():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])
    assert holm([0.02, 0.03]) == pytest.approx([0.04, 0.04])  # monotone: 0.03 x 1 is raised to 0.02 x 2
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_kendall_tau_b_is_scipys_with_ties():
    from scipy.stats import kendalltau

    from zoo.scores.stats import kendall_tau_b

    rng = np.random.default_rng(1)
    for _ in range(100):
        x, y = rng.integers(0, 4, 6), rng.integers(0, 4, 6)
        expected = kendalltau(x, y).statistic
        found = kendall_tau_b(x, y)[0]
        assert (math.isnan(found) and math.isnan(expected)) or found == pytest.approx(expected, abs=1e-12)


def test_t_interval_of_seeds():
    values = [0.51, 0.55, 0.53]
    low, high = t_interval(values)
    half = 4.302652729911275 * np.std(values, ddof=1) / math.sqrt(3)  # t(0.975, 2)
    assert (low, high) == pytest.approx((0.53 - half, 0.53 + half))
    assert all(math.isnan(v) for v in t_interval([0.5]))


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """Four classes barely visible in the noise (a faint tint each), train and test folders: two
    backbones get some of them right, and not the same ones."""
    from PIL import Image

    root, rng = tmp_path_factory.mktemp("noisy"), np.random.default_rng(7)
    for split, n in (("train", 24), ("test", 12)):
        for label, name in enumerate(("cat", "dog", "fox", "owl")):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 200, (16, 16, 3)) + np.eye(4, 3, dtype=int)[label] * 40
                Image.fromarray(pixels.astype(np.uint8)).save(root / split / name / f"{i:02d}.png")
    return f"folder:{root}"


@pytest.fixture(scope="module")
def pair(noisy, tmp_path_factory):
    """tiny against grid-b (another tiny backbone) on the same test images."""
    out = tmp_path_factory.mktemp("pair")
    invoke_zoo("--plugin", TINY_PLUGIN, "--plugin", str(TINY_PLUGIN.with_name("grid.py")), "compare", "tiny",
               "grid-b", "--dataset", noisy, *QUICK, "--lr", "1e-2", "--output", out, check=0,
               env={"ZOO_CACHE": str(shared_store(tmp_path_factory))})
    return out


def test_every_trial_writes_its_predictions(pair):
    rows = json.loads((pair / "results.json").read_text())
    for row in rows:
        found = _predictions(pair, row)
        assert list(found.columns) == ["index", "path", "label", "predicted", "confidence"]
        assert len(found) == row["test_images"] == 48
        assert found["index"].tolist() == list(range(48))
        assert found["path"].str.endswith(".png").all()
        assert set(found["label"]) == {"cat", "dog", "fox", "owl"}
        assert found["confidence"].between(0.25, 1).all()  # the top class of four
        assert (found["label"] == found["predicted"]).mean() == pytest.approx(row["test_accuracy"])
        correct = int((found["label"] == found["predicted"]).sum())
        assert (row["test_accuracy_low"], row["test_accuracy_high"]) == pytest.approx(wilson_interval(correct, 48))


def _predictions(folder, row):
    [path] = [p for p in folder.glob("*/predictions.csv") if p.parent.name.startswith(row["backbone"] + "-")]
    return pd.read_csv(path)


def test_mcnemar_p_matches_a_binomial_test_of_the_discordant_pairs(pair):
    rows = sorted(json.loads((pair / "results.json").read_text()), key=lambda r: -r["test_accuracy"])
    best, other = rows
    a, b = _predictions(pair, best), _predictions(pair, other)
    right_a, right_b = a["label"] == a["predicted"], b["label"] == b["predicted"]
    only_a, only_b = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
    assert only_a + only_b > 0, "the two backbones must disagree somewhere for the test to mean anything"
    expected = binomtest(only_a, only_a + only_b, 0.5).pvalue
    assert other["p_vs_best"] == pytest.approx(expected, rel=1e-9)
    assert best["p_vs_best"] is None and best["tied_with_best"] is True
    assert other["tied_with_best"] is bool(expected >= 0.05)


@pytest.mark.slow  # two trials (5 s); quick, the McNemar test checks p_vs_best against predictions.csv
def test_the_same_backbone_under_two_names_is_tied_with_itself(photos, tmp_path):
    from zoo.plugins import import_plugin

    tiny = import_plugin(str(TINY_PLUGIN))

    class Twin:
        @zoo.hookimpl
        def register_backbones(self, register):
            register(zoo.Backbone(name="tiny_twin", build=tiny.build, preprocess=tiny.preprocess, min_input_size=8,
                                  default_input_size=32, freeze_layer="conv3", pooling="avg"))

    with registered(Twin(), "twin"):
        result = invoke_zoo("--plugin", TINY_PLUGIN, "compare", "tiny", "tiny_twin", "--dataset", photos, *QUICK,
                            "--lr", "1e-2", "--output", tmp_path, check=0)
    rows = json.loads((tmp_path / "results.json").read_text())
    assert rows[0]["test_accuracy"] == rows[1]["test_accuracy"]
    assert [r["tied_with_best"] for r in rows] == [True, True]
    assert sorted(r["p_vs_best"] is None for r in rows) == [False, True]  # the other's p: 1, nothing differs
    said = " ".join(result.stdout.split())
    assert "No single winner" in said and "tiny, tiny_twin are tied" in said.replace("tiny_twin, tiny", "tiny, tiny_twin")


def test_the_linear_probe_matches_a_direct_scikit_learn_fit(photos, tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from zoo.core.recipe import Recipe
    from zoo.data.datasets import Splits, load, parse_dataset
    from zoo.plugins import import_plugin
    from zoo.scores import C_GRID
    from zoo.training.probe import pooled_features
    from zoo.training.trials import Trial

    invoke_zoo("--plugin", TINY_PLUGIN, "compare", "tiny", "--dataset", photos, "--weights", "none",
               "--protocol", "linear-probe", "--output", tmp_path, check=0)
    row = json.loads((tmp_path / "results.json").read_text())[0]
    assert row["protocol"] == "linear-probe" and row["lr"] is None and row["epochs"] is None
    spec = parse_dataset(photos, None, alone=True)
    splits = Splits.from_data(load(spec), 0.2, None)
    with registered(import_plugin(str(TINY_PLUGIN)), "tiny-lp"):
        found, *_ = pooled_features(zoo.get_backbone("tiny"), splits, Trial("tiny", spec, 0, Recipe(weights=None)),
                                    ("train", "val", "test"), say=lambda *_: None)
    (train, y_train), (val, y_val), (test, y_test) = found["train"], found["val"], found["test"]

    # C on validation: standardised on train, fitted along the grid from the previous solution.
    scaler = StandardScaler().fit(train)
    path = LogisticRegression(max_iter=100, warm_start=True)
    on_val = [path.set_params(C=C).fit(scaler.transform(train), y_train).score(scaler.transform(val), y_val)
              for C in C_GRID]
    assert row["C"] == C_GRID[int(np.argmax(on_val))] and row["best_val_accuracy"] == pytest.approx(max(on_val))
    # Then one fit on train + validation at that C, evaluated once on test.
    direct = make_pipeline(StandardScaler(), LogisticRegression(C=row["C"], max_iter=100)).fit(
        np.concatenate([train, val]), np.concatenate([y_train, y_val])).score(test, y_test)
    assert row["test_accuracy"] == pytest.approx(direct, abs=1e-6)


def test_the_verdict_names_ties_and_a_backbone_no_better_than_the_largest_class():
    from zoo.results.report import verdict
    from zoo.scores.stats import majority_accuracy

    assert majority_accuracy([0] * 48 + [1] * 4, [0] * 12 + [1]) == pytest.approx(12 / 13)
    rows = [{"backbone": name, "dataset": "parts", "seed": 0, "status": "ok", "test_accuracy": acc,
             "majority_accuracy": 12 / 13, "balanced_accuracy": bal, "tied_with_best": tied}
            for name, acc, bal, tied in (("a", 0.96, 0.9, True), ("b", 0.95, 0.8, True), ("c", 12 / 13, 0.5, False))]
    said = verdict(rows)
    assert "No single winner on parts: a, b are tied" in said
    assert "Warning: c (parts) does no better than always predicting the largest class (92.3%); its balanced " \
           "accuracy is 50.0%." in said
    assert "Warning: a" not in said and "Warning: b" not in said


@pytest.mark.slow  # a trial; quick, test_the_verdict_names_ties_and_a_backbone_no_better_than_the_largest_class
def test_imbalanced_data_warns_when_a_backbone_is_no_better_than_the_largest_class(tmp_path):
    """60 "normal" and 5 "defect" images of one look: always saying normal is right 92% of the time."""
    root = tmp_path / "parts"
    rng = np.random.default_rng(0)
    from PIL import Image

    for name, n in (("normal", 60), ("defect", 5)):
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(100, 110, (16, 16, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    result = invoke_zoo("--plugin", TINY_PLUGIN, "compare", "tiny", "--dataset", f"folder:{root}", *QUICK,
                        "--lr", "1e-2", "--output", tmp_path / "run", check=0)
    row = json.loads((tmp_path / "run" / "results.json").read_text())[0]
    assert row["majority_accuracy"] == pytest.approx(12 / 13)
    assert row["test_accuracy"] <= row["majority_accuracy"]
    assert row["balanced_accuracy"] == pytest.approx(0.5)
    said = " ".join(result.stdout.split())
    assert "does no better than always predicting the largest class (92.3%)" in said


def test_report_shows_the_best_backbones_most_confident_mistakes(pair):
    page = (pair / "report.html").read_text()
    rows = sorted(json.loads((pair / "results.json").read_text()), key=lambda r: -r["test_accuracy"])
    assert f"What {rows[0]['backbone']} got wrong" in page
    wrong = _predictions(pair, rows[0]).query("label != predicted").sort_values("confidence", ascending=False)
    assert page.count("data:image/png;base64,") >= min(len(wrong), 16)  # one thumbnail each (and the plots)
    first = wrong.iloc[0]
    assert f"#{first['index']}: true <b>{first['label']}</b>, predicted <b>{first['predicted']}</b>" in page
    assert f"Confusions that differ most: {rows[0]['backbone']} against {rows[1]['backbone']}" in page


def test_the_predictions_frame_is_one_row_per_trial_and_image():
    from zoo.results.report import predictions_frame

    found = {"a|d|seed 0": {"index": [0, 1], "path": [None, None], "label": ["x", "y"], "predicted": ["x", "x"],
                            "confidence": [0.9, 0.6]},
             "b|d|seed 0": {"index": [0], "path": ["p.png"], "label": ["y"], "predicted": ["y"], "confidence": [0.7]},
             "c|d|seed 0": {}}  # a failed trial: no predictions
    frame = predictions_frame(found)
    assert list(frame.columns) == ["trial", "index", "path", "label", "predicted", "confidence"]
    assert frame["trial"].tolist() == ["a|d|seed 0", "a|d|seed 0", "b|d|seed 0"]
    assert frame["confidence"].tolist() == [0.9, 0.6, 0.7]


@pytest.mark.slow  # a trial; quick, the test above builds the frame the API puts in attrs
def test_the_python_api_returns_the_predictions_in_attrs(photos):
    with plugin_state():  # the plugin the call loads is unloaded after it
        frame = zoo.compare("tiny", photos, weights=None, epochs=1, batch_size=16, lr=1e-2,
                            plugins=[str(TINY_PLUGIN)], progress=False)
    predictions = frame.attrs["predictions"]
    assert list(predictions.columns) == ["trial", "index", "path", "label", "predicted", "confidence"]
    assert len(predictions) == 32 and set(predictions["trial"]) == {frame.loc[0, "trial"]}
    assert frame.loc[0, "test_accuracy_low"] < frame.loc[0, "test_accuracy"] <= frame.loc[0, "test_accuracy_high"]


def test_resume_keeps_the_earlier_trials_predictions_in_the_test(pair, noisy, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(pair, out)
    invoke_zoo("--plugin", TINY_PLUGIN, "--plugin", str(TINY_PLUGIN.with_name("grid.py")), "compare", "tiny",
               "grid-b", "--dataset", noisy, *QUICK, "--lr", "1e-2", "--output", out, "--resume", check=0)
    before = {r["backbone"]: r["p_vs_best"] for r in json.loads((pair / "results.json").read_text())}
    after = {r["backbone"]: r["p_vs_best"] for r in json.loads((out / "results.json").read_text())}
    assert after == before


@pytest.mark.slow  # a trial; quick, the resume test above reads an earlier run's predictions
def test_overwrite_removes_the_earlier_trials_predictions(pair, noisy, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(pair, out)
    invoke_zoo("--plugin", TINY_PLUGIN, "compare", "tiny", "--dataset", noisy, *QUICK, "--lr", "1e-2",
               "--output", out, "--overwrite", check=0)
    assert [p.parent.name.split("-")[0] for p in out.glob("*/predictions.csv")] == ["tiny"]
    assert not list(out.glob("grid-b-*")), "no folder of a trial that has no row"
