"""``zoo compare`` on every built-in dataset, from small files in each one's published format."""

import json

import pytest

from ..conftest import TINY_PLUGIN, json_out
from ..dataset_files import (write_cifar100, write_fashion_idx, write_image_folder, write_mnist_npz)

pytestmark = pytest.mark.shared_store  # no test here looks at the feature store

QUICK = ["--weights", "none", "--epochs", "1", "--batch-size", "16", "--optimizer", "adam", "--lr", "0.003"]


@pytest.mark.slow  # vgg16 trained; test_recipes adapts grey small images for tiny in the quick tier
def test_vgg16_takes_mnist_at_32x32_rgb(run_zoo, tmp_path):
    # The classic complaint: VGG16 refuses 28x28 grey images. zoo adapts them inside the model.
    write_mnist_npz(tmp_path / "mnist" / "mnist.npz", n_train=60, n_test=20)
    result = run_zoo("compare", "vgg16", "--dataset", "mnist", "--data-dir", tmp_path / "mnist", *QUICK,
                     "--output", tmp_path / "run", check=0)
    assert "32 (from 28x28x1)" in result.stdout
    [row] = json.loads((tmp_path / "run" / "results.json").read_text())
    assert row["status"] == "ok" and row["dataset"] == "mnist"
    assert row["input_size"] == 32 and row["data_shape"] == "28x28x1"
    assert row["total_params"] == 14_848_586, "the backbone saw 32x32x3, as for CIFAR-10"
    assert (row["train_images"], row["val_images"], row["test_images"]) == (48, 12, 20)


@pytest.mark.parametrize("dataset, write, shape, classes", [
    pytest.param("cifar100", lambda d: write_cifar100(d / "cifar-100-python", 60, 20), "32x32x3", 100,
                 marks=pytest.mark.slow),  # the quick tier reads cifar100's files through :coarse
    ("cifar100:coarse", lambda d: write_cifar100(d / "cifar-100-python", 60, 20), "32x32x3", 20),
    pytest.param("fashion_mnist", lambda d: write_fashion_idx(d, 60, 20), "28x28x1", 10,
                 marks=pytest.mark.slow),  # slow: test_datasets reads its files; test_trials runs 28x28x1 mnist
])
def test_each_dataset_from_its_files(run_zoo, tmp_path, dataset, write, shape, classes):
    write(tmp_path / "data")
    result = run_zoo("--plugin", TINY_PLUGIN, "compare", "tiny", "--dataset", dataset, "--data-dir",
                     tmp_path / "data", *QUICK, "--output", tmp_path / "run", "--json", check=0)
    [row] = json_out(result)
    assert row["status"] == "ok" and row["dataset"] == dataset and row["data_shape"] == shape
    # The classifier has one output per class: Dense(256 -> classes).
    assert row["trainable_params"] - (8 * 256 + 256) - 584 == 256 * classes + classes


def test_an_image_folder(run_zoo, tmp_path):
    write_image_folder(tmp_path / "pets", classes=("cat", "dog", "fox"), per_class=12, size=(20, 24),
                       splits=True)
    result = run_zoo("--plugin", TINY_PLUGIN, "compare", "tiny", "--dataset", f"folder:{tmp_path / 'pets'}",
                     *QUICK, "--output", tmp_path / "run", "--json", check=0)
    [row] = json_out(result)
    # Files are decoded at the card's default size (tiny's: 32), not at their own 20x24.
    assert row["status"] == "ok" and row["data_shape"] == "32x32x3" and row["input_size"] == 32
    assert row["resize"] == "crop" and row["skipped_images"] == 0
    assert row["train_images"] + row["val_images"] == 36 and row["test_images"] == 18


def test_the_offline_synthetic_demo_beats_chance(run_zoo, tmp_path):
    result = run_zoo("--plugin", TINY_PLUGIN, "compare", "tiny", "--dataset", "synthetic", "--weights", "none",
                     "--epochs", "2", "--output", tmp_path / "run", check=0)
    assert "synthetic data" in result.stdout, "the caption says plainly that the data is synthetic"
    [row] = json.loads((tmp_path / "run" / "results.json").read_text())
    # Ten classes: chance is 10%. Over seeds 0-5 the tiny model reaches 25-39% here; twice chance
    # is a margin no seed comes near.
    assert row["status"] == "ok" and row["test_accuracy"] > 0.2, "ten classes: chance is 10%"


@pytest.mark.parametrize("args, message", [
    (["--dataset", "nosuch"], "Error: unknown dataset 'nosuch'. Known datasets: cifar10, cifar100, "
                              "fashion_mnist, folder, mnist, synthetic"),
    (["--dataset", "cifar100:medium"], "Error: --dataset cifar100:medium: cifar100 takes fine, coarse."),
    (["--dataset", "folder"], "Error: --dataset folder needs a folder: --dataset folder:PATH."),
    (["--dataset", "mnist", "--data-dir", "/nowhere"], "/nowhere"),
    (["--head", "wide"], "Error: unknown head 'wide'. Known heads: bn, dense, linear"),
])
def test_bad_dataset_or_head_is_one_line_and_exit_2(run_zoo, tmp_path, args, message):
    result = run_zoo("compare", "vgg16", *args, "--weights", "none", "--output", tmp_path, check=2)
    lines = [line for line in result.stderr.splitlines() if "Error:" in line]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_zoo_datasets_and_heads_list_what_is_registered(run_zoo):
    datasets = {row["name"]: row for row in json_out(run_zoo("datasets", "--json", check=0))}
    assert set(datasets) == {"cifar10", "cifar100", "fashion_mnist", "folder", "mnist", "synthetic", "tfds"}
    assert datasets["tfds"]["argument"] == "NAME[:TRAIN[:TEST]]"
    assert datasets["cifar100"]["variants"] == ["fine", "coarse"] and datasets["cifar100"]["classes"] == 100
    assert datasets["mnist"]["image_shape"] == "28x28x1" and datasets["folder"]["argument"] == "PATH"
    assert datasets["cifar10"]["download"] and not datasets["folder"]["download"]
    assert datasets["synthetic"]["generated"] and not datasets["synthetic"]["download"]
    heads = json_out(run_zoo("heads", "--json", check=0))
    assert [h["name"] for h in heads] == ["bn", "dense", "linear"]
    table = run_zoo("datasets", check=0).stdout
    assert "fashion_mnist" in table and "mnist.npz" in table
