"""The feature store: the key, safe writes, corrupt entries, eviction, and `zoo cache`."""

import json
import multiprocessing
import os
from dataclasses import replace

import keras
import numpy as np
import pytest

import zoo
from zoo.core.recipe import Recipe
from zoo.data.datasets import DatasetSpec, Splits
from zoo.training.harness import run_backbone
from zoo.training.store import FeatureStore, digest
from zoo.training.trials import Trial

from ..conftest import TINY_PLUGIN
from ..dataset_files import write_cifar10

CIFAR10 = DatasetSpec("cifar10", "cifar10")


pytestmark = pytest.mark.usefixtures("tiny_backbone")  # registered for this module (tests/conftest.py)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return zoo.load_dataset("cifar10", write_cifar10(tmp_path_factory.mktemp("cifar"), n_train=80, n_test=20))


RECIPE = Recipe(weights=None, epochs=1, batch_size=16)


def run(data, recipe=RECIPE, seed=0, limit=None, say=print, **trial):
    splits = Splits.from_data(data, recipe.val_split, limit if limit is not None else recipe.limit)
    return run_backbone(zoo.get_backbone("tiny"), splits, Trial("tiny", CIFAR10, seed, recipe, **trial), say=say).row


@pytest.mark.slow  # a long training run: nine trials, each part of the key on its own
def test_what_determines_the_features_is_the_key(data, tmp_path):
    first = run(data)
    assert first.feature_store == "miss" and first.status == "ok"
    # A weights file, by its content: a file is a miss, the same file again a hit (here with all
    # that changes the training, not the frozen features, at once: any one of them in the key
    # would make it a miss), another file with other weights a miss.
    keras.utils.set_random_seed(7)
    weights = tmp_path / "tiny.weights.h5"
    zoo.get_backbone("tiny").build((32, 32, 3), None).save_weights(weights)
    with_file = replace(RECIPE, weights=str(weights))
    assert run(data, with_file).feature_store == "miss"
    training = replace(with_file, head="linear", lr=1e-2, optimizer="adam", epochs=2)
    assert run(data, training, seed=3).feature_store == "hit"
    keras.utils.set_random_seed(8)
    zoo.get_backbone("tiny").build((32, 32, 3), None).save_weights(weights)  # same path, other content
    assert run(data, with_file).feature_store == "miss"
    # Each part of the key changed on its own: a miss.
    other_images = replace(data, x_train=data.x_train.copy())
    other_images.x_train[-1, 0, 0, 0] ^= 1  # one pixel of one training image
    for change in (dict(recipe=replace(RECIPE, preprocess=False)), dict(recipe=replace(RECIPE, input_size=40)),
                   dict(recipe=replace(RECIPE, freeze="pool2")), dict(recipe=replace(RECIPE, val_split=0.25)),
                   dict(limit=60), dict(data=other_images)):
        assert run(**{"data": data, **change}).feature_store == "miss", change


def test_no_store_neither_reads_nor_writes(data, feature_store):
    row = run(data, store=False)
    assert row.feature_store is None and row.feature_cache.startswith("cached at")
    assert not list(feature_store.glob("features/*"))
    assert run(data).feature_store == "miss"


def test_a_corrupt_entry_is_said_and_computed_again(data, feature_store):
    first = run(data)
    entries = sorted((feature_store / "features").glob("[!.]*"))
    assert len(entries) == 3  # train, validation and test
    features = entries[0] / "features.npy"
    blob = bytearray(features.read_bytes())
    blob[-3] ^= 0xFF  # a flipped byte: the checksum catches it
    features.write_bytes(bytes(blob))
    truncated = entries[1] / "features.npy"
    truncated.write_bytes(truncated.read_bytes()[:-100])
    said = []
    again = run(data, say=said.append)
    assert again.feature_store == "miss"
    assert sum("was unreadable" in line and "computing it again" in line for line in said) == 2, said
    assert all("\n" not in line for line in said)
    assert again.test_accuracy == pytest.approx(first.test_accuracy)  # the same features, computed again
    assert run(data).feature_store == "hit"  # and whole again


def _write_entry(root, barrier, results):
    store = FeatureStore(root)
    key = {"backbone": "concurrent", "split": "train"}
    writer = store.writer(key, (400, 64), np.arange(400) % 3)
    writer.features[:] = np.arange(400 * 64, dtype=np.float32).reshape(400, 64)
    barrier.wait()  # both commit at once
    results.put(float(writer.commit()[-1, -1]))


def test_two_writers_of_one_entry_leave_one_whole_entry(tmp_path):
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_write_entry, args=(tmp_path, barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert [results.get(timeout=5) for _ in workers] == [400 * 64 - 1] * 2
    store = FeatureStore(tmp_path)
    features, meta = store.open({"backbone": "concurrent", "split": "train"})
    np.testing.assert_array_equal(features, np.arange(400 * 64, dtype=np.float32).reshape(400, 64))
    assert [p.name for p in (tmp_path / "features").iterdir()] == [digest({"backbone": "concurrent", "split": "train"})]
    # Plain NumPy reads an entry, as the README says.
    labels = np.load(tmp_path / "features" / digest({"backbone": "concurrent", "split": "train"}) / "labels.npy")
    assert labels.tolist() == (np.arange(400) % 3).tolist()


def test_least_recently_used_entries_go_first(tmp_path):
    room = 3 * 400 * 256 * 4 + 3 * 10_000  # for three entries
    for name in "abcd":  # each written as a trial would, by its own store
        if name == "d":
            FeatureStore(tmp_path, limit=room).open({"backbone": "a"})  # a used again: b is now the oldest
        writer = FeatureStore(tmp_path, limit=room).writer({"backbone": name}, (400, 256), np.zeros(400))
        writer.features[:] = 1.0
        writer.commit()
    assert sorted(e.key["backbone"] for e in FeatureStore(tmp_path).entries()) == ["a", "c", "d"]


def test_a_trial_never_evicts_its_own_entries(tmp_path):
    # One trial's train, validation and test features together pass the limit: none of them
    # goes while that trial runs (each would be computed again for every seed).
    store = FeatureStore(tmp_path, limit=1)
    for split in ("train", "val", "test"):
        writer = store.writer({"backbone": "big", "split": split}, (100, 64), np.zeros(100))
        writer.features[:] = 2.0
        assert writer.commit().shape == (100, 64)
    assert len(store.entries()) == 3
    # The next trial's store evicts them, the least recently used first.
    FeatureStore(tmp_path, limit=1).evict()
    assert store.entries() == []


def test_what_a_killed_writer_left_is_swept(tmp_path):
    store = FeatureStore(tmp_path)
    writer = store.writer({"backbone": "killed"}, (10, 4), np.zeros(10))
    dead = writer.temp.with_name(writer.temp.name.replace(f"-{os.getpid()}-", "-999999999-"))
    writer.temp.rename(dead)  # as a writer whose process died mid-way leaves it
    store.evict()
    assert not dead.exists()


def test_zoo_cache_lists_and_clears(run_zoo, tmp_path, feature_store):
    folder = write_cifar10(tmp_path / "cifar", n_train=40, n_test=10)
    run_zoo("--plugin", TINY_PLUGIN, "compare", "tiny", "--data-dir", folder, "--weights", "none", "--epochs", "1",
            "--output", tmp_path / "out", check=0)
    listed = json.loads(run_zoo("cache", "list", "--json", check=0).stdout)
    assert sorted(row["split"] for row in listed) == ["test", "train", "val"]
    assert {row["backbone"] for row in listed} == {"tiny"}
    info = json.loads(run_zoo("cache", "info", "--json", check=0).stdout)
    assert info["location"] == str(feature_store) and info["entries"] == 3
    assert info["bytes"] == sum(row["bytes"] for row in listed)
    assert "Removed 0 entries" in run_zoo("cache", "clear", "vgg*", check=0).stdout
    assert "Removed 3 entries" in run_zoo("cache", "clear", check=0).stdout
    assert json.loads(run_zoo("cache", "list", "--json", check=0).stdout) == []
    assert "ZOO_CACHE_LIMIT_GB='lots'" in run_zoo("cache", "info", env={"ZOO_CACHE_LIMIT_GB": "lots"}, check=2).stderr


def test_a_store_that_cannot_be_written_is_one_line_before_any_work(run_zoo, tmp_path):
    folder = write_cifar10(tmp_path / "cifar", n_train=40, n_test=10)
    (tmp_path / "a-file").write_text("")
    result = run_zoo("compare", "tiny", "--data-dir", folder, "--weights", "none",  # tiny: this module's
                     "--output", tmp_path / "out", env={"ZOO_CACHE": str(tmp_path / "a-file")}, check=2)
    assert result.stderr.startswith(f"Error: the feature store {tmp_path / 'a-file'} cannot be written")
    assert "--no-store" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    run_zoo("compare", "tiny", "--data-dir", folder, "--weights", "none", "--epochs", "1",
            "--no-store", "--output", tmp_path / "out", env={"ZOO_CACHE": str(tmp_path / "a-file")}, check=0)


@pytest.mark.slow
def test_what_a_trial_process_says_reaches_the_driver(run_zoo, tmp_path, feature_store):
    folder = write_cifar10(tmp_path / "cifar", n_train=40, n_test=10)
    args = ("--plugin", TINY_PLUGIN, "compare", "tiny", "--data-dir", folder, "--weights", "none", "--epochs", "1",
            "--executor", "process")
    run_zoo(*args, "--output", tmp_path / "a", check=0)
    entry = sorted((feature_store / "features").glob("[!.]*"))[0] / "features.npy"
    entry.write_bytes(entry.read_bytes()[:-40])  # truncated
    result = run_zoo(*args, "--output", tmp_path / "b", check=0)
    assert "was unreadable" in result.stderr and "computing it again" in result.stderr


def test_a_folder_is_one_dataset_to_the_store_however_its_path_is_written(tmp_path, monkeypatch):
    from ..dataset_files import write_image_folder

    monkeypatch.setenv("HOME", str(tmp_path))
    write_image_folder(tmp_path / "pets", classes=("cat", "dog"), per_class=8, size=(12, 12), splits=True)
    first = zoo.rank(["tiny"], "folder:~/pets", weights=None, progress=False)
    again = zoo.rank(["tiny"], f"folder:{tmp_path / 'pets'}", weights=None, progress=False)
    assert first["feature_store"].tolist() == ["miss"] and again["feature_store"].tolist() == ["hit"]


def test_a_step_timing_says_whether_it_was_measured_or_reused_and_when(data, feature_store, monkeypatch):
    from zoo.training import timing

    monkeypatch.setattr(timing, "_timings", {})  # this process has measured nothing yet
    first, again = run(data), run(data, seed=1)
    assert (first.step_timing, again.step_timing) == ("measured", "reused")
    assert again.timed_at == first.timed_at and again.train_step_ms == first.train_step_ms
    # The rule itself, on a small compiled model: --retime measures again, and a timing measured
    # beside other trials is reused only by such a run, never by one on a quiet machine.
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    store, key = FeatureStore(feature_store), {"model": "small"}

    def timed(**how):
        return timing.step_timing(model, 4, 3, store, key, **how)["step_timing"]

    assert [timed(), timed(), timed(retime=True)] == ["measured", "reused", "measured"]
    assert [timed(retime=True, shared_load=True), timed(shared_load=True)] == \
        ["measured under shared load", "reused under shared load"]
    monkeypatch.setattr(timing, "_timings", {})  # a later run: what the store kept
    assert [timed(), timed()] == ["measured", "reused"], "a quiet run measures again, then reuses its own"


@pytest.mark.parametrize("executor, jobs, backbones, shared", [
    ("local", None, ["tiny"], False), ("process", 1, ["tiny"], False), ("process", 2, ["tiny"], True),
    ("ray", None, ["tiny"], False), ("ray", None, ["tiny", "vgg16"], True),
])
def test_trials_that_run_beside_others_time_under_shared_load(executor, jobs, backbones, shared):
    from zoo.run.plan import plan

    planned = plan(backbones, "synthetic", given={}, executor=executor, jobs=jobs, store=False)
    assert {trial.shared_load for trial in planned.trials} == {shared}
