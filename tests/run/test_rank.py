"""zoo rank, compare --top K, and Kendall's tau between a ranking and fine-tuned accuracy."""

import json
import shutil

import keras
import pandas as pd
import pytest

import zoo
from zoo.core.rows import RankRow
from zoo.results.agreement import agreement

from ..conftest import TINY_PLUGIN, invoke_zoo, registered, shared_store
from ..dataset_files import write_cifar10


class ThreeWidths:
    """Three tiny backbones of different widths: enough for a ranking and its tau."""

    @zoo.hookimpl
    def register_backbones(self, register):
        for name, width in (("tiny-2", 2), ("tiny-4", 4), ("tiny-8", 8)):
            def build(shape, weights, width=width, name=name):
                image = keras.Input(shape)
                x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="conv1")(image)
                x = keras.layers.MaxPooling2D(2, name="pool1")(x)
                x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="conv2")(x)
                return keras.Model(image, x, name=name)

            register(zoo.Backbone(name=name, build=build, preprocess="tf", min_input_size=8, default_input_size=32,
                                  freeze_layer="conv2", pooling="avg"))


@pytest.fixture(scope="module", autouse=True)
def backbones():
    with registered(ThreeWidths(), "three-widths"):
        yield


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    return write_cifar10(tmp_path_factory.mktemp("cifar"), n_train=80, n_test=20)


NAMES = ("tiny-2", "tiny-4", "tiny-8")
ROW_KEYS = {"backbone", "logme", "knn_accuracy", "feature_dim", "extract_seconds", "score_seconds", "feature_store"}


def test_rank_scores_every_backbone_best_first_and_writes_its_files(run_zoo, cifar, tmp_path):
    args = ("rank", *NAMES, "--data-dir", cifar, "--weights", "none", "--output", tmp_path, "--json")
    rows = json.loads(run_zoo(*args, check=0).stdout)
    assert [row["backbone"] for row in rows] == sorted(NAMES, key=lambda n: -next(r["logme"] for r in rows
                                                                                    if r["backbone"] == n))
    assert all(ROW_KEYS <= set(row) and row["feature_store"] == "miss" for row in rows)
    assert {row["backbone"]: row["feature_dim"] for row in rows} == {"tiny-2": 2, "tiny-4": 4, "tiny-8": 8}
    assert json.loads((tmp_path / "rank.json").read_text()) == rows
    assert pd.read_csv(tmp_path / "rank.csv")["backbone"].tolist() == [row["backbone"] for row in rows]
    # Again, by the linear probe: every feature from the store, the same scores, another order.
    again = json.loads(run_zoo(*args, "--rank-by", "linear_probe", check=0).stdout)
    assert [row["feature_store"] for row in again] == ["hit"] * 3
    assert sorted(row["logme"] for row in again) == pytest.approx(sorted(row["logme"] for row in rows))
    assert [r["linear_probe"] for r in again] == sorted((r["linear_probe"] for r in rows), reverse=True)
    assert all(0 <= r["linear_probe"] <= 1 for r in again)
    table = run_zoo(*args[:-1], check=0).stdout
    assert "LogME" in table and "k-NN acc" in table and "linear probe" in table and "tiny-8" in table


@pytest.mark.slow  # quick, test_the_linear_probe_matches_a_direct_scikit_learn_fit checks the same C grid
def test_the_linear_probe_score_is_scikit_learns_best_validation_accuracy(cifar):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from zoo.core.recipe import Recipe
    from zoo.data.datasets import Splits, load, parse_dataset
    from zoo.scores import C_GRID
    from zoo.training.probe import pooled_features, rank_backbone
    from zoo.training.trials import Trial

    spec = parse_dataset("cifar10", str(cifar), alone=True)
    splits = Splits.from_data(load(spec), 0.2, None)
    trial = Trial("tiny-4", spec, 0, Recipe(weights=None), store=False)
    row = rank_backbone(zoo.get_backbone("tiny-4"), splits, trial, say=lambda *_: None)
    found, *_ = pooled_features(zoo.get_backbone("tiny-4"), splits, trial, ("train", "val"), say=lambda *_: None)
    (train, y_train), (val, y_val) = found["train"], found["val"]
    scaler = StandardScaler().fit(train)
    path = LogisticRegression(max_iter=100, warm_start=True)  # each C from the previous one's solution
    accuracies = [path.set_params(C=C).fit(scaler.transform(train), y_train).score(scaler.transform(val), y_val)
                  for C in C_GRID]
    assert row.linear_probe == pytest.approx(max(accuracies), abs=1e-9)


@pytest.mark.slow  # a fresh trial process
def test_rank_runs_on_the_process_executor_too(run_zoo, cifar, tmp_path):
    here = json.loads(run_zoo("rank", "tiny-4", "--data-dir", cifar, "--weights", "none", "--json",
                              "--output", tmp_path / "a", check=0).stdout)
    there = json.loads(run_zoo("--plugin", TINY_PLUGIN, "rank", "tiny", "--data-dir", cifar, "--weights", "none",
                               "--json", "--executor", "process", "--output", tmp_path / "b", check=0).stdout)
    assert here[0]["status"] == there[0]["status"] == "ok"
    assert there[0]["backbone"] == "tiny" and there[0]["logme"] is not None


TOP_K_RECIPE = ("--weights", "none", "--epochs", "3", "--optimizer", "adam", "--lr", "0.01")


@pytest.fixture(scope="module")
def top_two(cifar, tmp_path_factory):
    """``compare --top 2`` of the three, then the third fine-tuned into the same folder: the
    stdout and stderr of each run, and the folder (which tests copy before they change it)."""
    out = tmp_path_factory.mktemp("top")
    env = {"ZOO_CACHE": str(shared_store(tmp_path_factory))}
    first = invoke_zoo("compare", *NAMES, "--data-dir", cifar, *TOP_K_RECIPE, "--top", "2", "--output", out,
                       env=env, check=0)
    ranked = json.loads((out / "rank.json").read_text())
    tuned = json.loads((out / "results.json").read_text())
    agreement_before = json.loads((out / "agreement.json").read_text()) if (out / "agreement.json").exists() else []
    third = invoke_zoo("compare", ranked[2]["backbone"], "--data-dir", cifar, *TOP_K_RECIPE, "--output", out,
                       "--resume", env=env, check=0)
    return {"folder": out, "first": first, "third": third, "ranked": ranked, "tuned": tuned,
            "agreement_before": agreement_before}


@pytest.mark.shared_store
def test_top_k_fine_tunes_exactly_the_k_best_and_reports_tau(top_two):
    out, ranked = top_two["folder"], top_two["ranked"]
    assert len(ranked) == 3
    assert sorted(row["backbone"] for row in top_two["tuned"]) == sorted(row["backbone"] for row in ranked[:2])
    assert "fine-tuning the 2 best of 3" in top_two["first"].stderr
    # Two fine-tuned: no tau yet. The third fine-tuned into the same folder: tau over three.
    assert top_two["agreement_before"] == []
    found = {a["score"]: a for a in json.loads((out / "agreement.json").read_text())}
    assert set(found) == {"logme", "knn_accuracy", "linear_probe"}
    # Each tau is the one the folder's own files give, counted pair by pair.
    accuracy = {row["backbone"]: row["test_accuracy"] for row in json.loads((out / "results.json").read_text())}
    for score, a in found.items():
        assert a["n"] == 3 and a["backbones"] == sorted(NAMES)
        scores = {row["backbone"]: row[score] for row in ranked}
        assert a["kendall_tau"] == pytest.approx(tau_b([scores[b] for b in NAMES], [accuracy[b] for b in NAMES]))
    assert (f"LogME vs test accuracy (cifar10, 3 backbones): Kendall tau {found['logme']['kendall_tau']:.2f}"
            in top_two["third"].stdout)


def tau_b(x, y) -> float:
    """Kendall's tau-b counted pair by pair: (concordant - discordant) over the pairs that are not
    tied, as scipy's kendalltau defines it (a tie counts for neither)."""
    pairs = [(i, j) for i in range(len(x)) for j in range(i + 1, len(x))]
    sign = [((x[i] > x[j]) - (x[i] < x[j])) * ((y[i] > y[j]) - (y[i] < y[j])) for i, j in pairs]
    untied_x = sum(x[i] != x[j] for i, j in pairs)
    untied_y = sum(y[i] != y[j] for i, j in pairs)
    return sum(sign) / (untied_x * untied_y) ** 0.5


def test_tau_matches_a_count_of_concordant_pairs():
    # Scores 1 < 2 < 3 < 4 against accuracies that swap the last two: 5 concordant pairs, 1
    # discordant, so Kendall's tau is (5 - 1) / 6.
    ranks = [RankRow(name, "d", logme=score, knn_accuracy=score) for name, score in zip("abcd", (1, 2, 3, 4))]
    results = [{"backbone": name, "dataset": "d", "status": "ok", "test_accuracy": acc}
               for name, acc in zip("abcd", (0.1, 0.2, 0.4, 0.3))]
    results.append({"backbone": "a", "dataset": "d", "status": "ok", "test_accuracy": 0.1})  # another seed
    found = agreement(ranks, results)
    assert found[0]["kendall_tau"] == pytest.approx(4 / 6)
    assert found[0]["n"] == 4
    # Four backbones: tau's 95% bootstrap interval is wide, and holds tau.
    low, high = found[0]["kendall_tau_low"], found[0]["kendall_tau_high"]
    assert -1 <= low < 4 / 6 <= high <= 1 and high - low > 0.5
    # The weighted tau weighs the top of the ranking: the swap sits there, so it is lower.
    assert found[0]["weighted_tau"] < found[0]["kendall_tau"]
    assert agreement(ranks[:2], results) == []  # two backbones: no tau


def test_repeats_share_features_and_step_timing(run_zoo, cifar, tmp_path):
    # Two repeats: the second seed reads what the first wrote, as any later one would.
    run_zoo("compare", "tiny-4", "--data-dir", cifar, "--weights", "none", "--epochs", "1", "--repeats", "2",
            "--output", tmp_path, check=0)
    rows = sorted(json.loads((tmp_path / "results.json").read_text()), key=lambda r: r["seed"])
    assert [row["feature_store"] for row in rows] == ["miss", "hit"]
    assert len({row["train_step_ms"] for row in rows}) == 1  # measured once, for the first seed


@pytest.mark.shared_store
def test_the_python_api_ranks(cifar, tmp_path):
    frame = zoo.rank(list(NAMES), data_dir=cifar, weights=None, progress=False)
    assert sorted(frame["backbone"]) == sorted(NAMES) and (frame["status"] == "ok").all()
    assert frame["logme"].notna().all() and frame["knn_accuracy"].between(0, 1).all(), "every backbone scored"
    assert frame["logme"].is_monotonic_decreasing and frame["logme"].nunique() == 3, "best LogME first"
    assert frame.attrs["exit_code"] == 0
    with pytest.raises(zoo.BadInput, match="rank takes no epochs"):
        zoo.rank("tiny-2", data_dir=cifar, epochs=3)


@pytest.mark.shared_store
def test_resume_with_top_keeps_the_earlier_rows_it_does_not_run_again(run_zoo, cifar, top_two, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(top_two["folder"], out)  # three fine-tuned for 3 epochs
    # Other options: every trial is due to run again, but only the best one does.
    run_zoo("compare", *NAMES, "--data-dir", cifar, "--weights", "none", "--epochs", "2", "--top", "1",
            "--output", out, "--resume", check=0)
    rows = json.loads((out / "results.json").read_text())
    assert sorted(row["backbone"] for row in rows) == sorted(NAMES)
    assert sorted(row["epochs"] for row in rows) == [2, 3, 3]
