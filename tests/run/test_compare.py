"""``zoo compare`` end to end on small CIFAR-10 folders written in the original format."""

import json

import pandas as pd
import pytest

from zoo.core.rows import COLUMNS

from ..conftest import TINY_PLUGIN, json_out, registered
from ..dataset_files import write_cifar10

pytestmark = pytest.mark.shared_store  # no test here looks at the feature store

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    return write_cifar10(tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py", n_train=300, n_test=100)


@pytest.mark.slow  # vgg16 trained end to end; test_protocol checks the classic recipe's counts untrained
def test_compare_end_to_end(run_zoo, cifar, tmp_path):
    out = tmp_path / "run"
    result = run_zoo("--plugin", TINY_PLUGIN, "compare", "tiny", "vgg16", "--data-dir", cifar.parent,
                     "--weights", "none", "--epochs", "3", "--batch-size", "16", "--optimizer", "adam",
                     "--lr", "0.003", "--limit", "250", "--output", out, check=0)
    table = result.stdout
    assert "zoo compare" in table and "tiny" in table and "vgg16" in table
    assert "14,848,586" in table and "133,898" in table and "14,714,688" in table
    assert "backend tensorflow" in " ".join(table.split())  # rich may wrap the caption

    rows = json.loads((out / "results.json").read_text())
    assert [r["status"] for r in rows] == ["ok", "ok"]
    keys = ("backbone dataset weights input_size freeze_layer pooling epochs batch_size train_images "
            "val_images test_images test_accuracy test_loss best_val_accuracy total_params trainable_params "
            "non_trainable_params train_step_ms infer_images_per_s fit_seconds feature_cache device backend "
            "keras_version status error").split()
    assert set(keys) <= set(rows[0])
    by_name = {r["backbone"]: r for r in rows}
    assert [r["test_accuracy"] for r in rows] == sorted((r["test_accuracy"] for r in rows), reverse=True)
    vgg = by_name["vgg16"]
    assert (vgg["total_params"], vgg["trainable_params"], vgg["non_trainable_params"]) == \
        (14_848_586, 133_898, 14_714_688)
    assert (vgg["train_images"], vgg["val_images"], vgg["test_images"]) == (200, 50, 100)
    assert vgg["freeze_layer"] is None and vgg["pooling"] == "flatten" and vgg["input_size"] == 32
    assert vgg["feature_cache"].startswith("cached at block5_pool")
    tiny = by_name["tiny"]
    assert tiny["test_accuracy"] > 0.3, "a learnable pattern: well above the 10% of chance"
    assert tiny["freeze_layer"] == "conv3" and tiny["error"] is None
    for row in rows:
        assert row["train_step_ms"] > 0 and row["infer_images_per_s"] > 0 and row["fit_seconds"] > 0
        assert row["backend"] == "tensorflow" and row["device"]

    frame = pd.read_csv(out / "results.csv")
    assert list(frame.columns) == COLUMNS
    assert list(frame["backbone"]) == [r["backbone"] for r in rows]
    for image in ("curves.png", "tradeoff.png"):
        data = (out / image).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000
    # --save-models best (the default): the best trial's model alone, the best on validation.
    best = max(rows, key=lambda row: row["best_val_accuracy"])
    assert [p.name for p in out.glob("*.keras")] == [best["model"]]
    assert (out / best["model"]).stat().st_size > (50_000_000 if best["backbone"] == "vgg16" else 0)
    assert not list(out.glob("*.weights.h5")), "the best-epoch weights end up in the .keras model"


@pytest.mark.slow  # slow: test_reporting's kept-model test reloads what compare saved and matches its accuracy
def test_saved_model_reloads_and_reproduces_test_accuracy(run_zoo, cifar, tmp_path):
    import keras

    import zoo

    out = tmp_path / "run"
    run_zoo("--plugin", TINY_PLUGIN, "compare", "tiny", "--data-dir", cifar, "--weights", "none",
            "--epochs", "2", "--batch-size", "16", "--optimizer", "adam", "--lr", "0.003",
            "--limit", "250", "--output", out, "--json", check=0)
    row = json.loads((out / "results.json").read_text())[0]
    from zoo.plugins import import_plugin

    with registered(import_plugin(str(TINY_PLUGIN)), "tiny-test-plugin"):
        model = keras.saving.load_model(out / "tiny.keras")
    data = zoo.load_dataset("cifar10", cifar)
    # Saved without its optimizer (--save-optimizer keeps it): compile to evaluate.
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    _, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    assert accuracy == pytest.approx(row["test_accuracy"], abs=1e-6)


@pytest.mark.slow  # quick, test_nothing_lost's integers test and test_reporting's failed-trial test keep a finished row beside a failed one
def test_one_failing_backbone_keeps_the_others(run_zoo, cifar, tmp_path):
    failing = tmp_path / "failing_plugin.py"
    failing.write_text(
        "import zoo\n"
        "def build(shape, weights):\n"
        "    raise MemoryError('out of memory building this backbone')\n"
        "@zoo.hookimpl\n"
        "def register_backbones(register):\n"
        "    register(zoo.Backbone(name='failing', build=build, preprocess=lambda x: x, min_input_size=8,\n"
        "                          default_input_size=32, freeze_layer=None, pooling='avg'))\n")
    out = tmp_path / "run"
    result = run_zoo("--plugin", TINY_PLUGIN, "--plugin", failing, "compare", "failing", "tiny",
                     "--data-dir", cifar, "--weights", "none", "--epochs", "1", "--batch-size", "16",
                     "--limit", "100", "--output", out, "--json", check=1)
    rows = {r["backbone"]: r for r in json_out(result)}
    assert rows["tiny"]["status"] == "ok"
    assert rows["failing"]["status"] == "failed"
    assert rows["failing"]["error"] == "MemoryError: out of memory building this backbone"
    assert "failing failed: MemoryError: out of memory building this backbone" in result.stderr
    saved = json.loads((out / "results.json").read_text())
    assert {r["backbone"]: r["status"] for r in saved} == {"tiny": "ok", "failing": "failed"}


def error_lines(result):
    return [line for line in result.stderr.splitlines() if "Error:" in line or "failed:" in line]


@pytest.mark.parametrize("args, message", [
    (["nosuch"], "Error: unknown backbone 'nosuch'. Known backbones: clip_b16, clip_b32, convnextbase, "),
    ([], "Error: name one or more backbones, or pass --all"),
    (["vgg16", "--input-size", "16"], "Error: input size 16 is below vgg16's minimum of 32; "
                                      "use --input-size 32 or more."),
    (["vgg16", "--freeze", "conv9"], "vgg16 failed: layer 'conv9' is not in vgg16; "
                                     "`zoo layers vgg16` lists its layers."),
    (["vgg16", "--weights", "/nowhere/w.h5"], "Error: weights file /nowhere/w.h5 not found for vgg16"),
])
def test_bad_input_is_one_line_and_exit_2(run_zoo, cifar, tmp_path, args, message):
    result = run_zoo("compare", *args, "--data-dir", cifar, "--weights", "none", "--epochs", "1",
                     "--limit", "20", "--output", tmp_path, check=2) if "--weights" not in args else \
        run_zoo("compare", *args, "--data-dir", cifar, "--epochs", "1", "--limit", "20", "--output", tmp_path,
                check=2)
    lines = error_lines(result)
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_no_network_and_nothing_cached_names_the_file_and_the_flags(run_zoo_process, cifar, tmp_path):
    run_zoo = run_zoo_process  # Keras reads KERAS_HOME when it is imported: a fresh process
    # A proxy on a closed local port makes Keras's download fail at once, as offline.
    offline = {"KERAS_HOME": str(tmp_path / "keras"), "HTTPS_PROXY": "http://127.0.0.1:9",
               "HTTP_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
               "http_proxy": "http://127.0.0.1:9", "NO_PROXY": "", "no_proxy": ""}
    result = run_zoo("compare", "vgg16", "--weights", "none", "--output", tmp_path / "a", env=offline, check=2)
    [line] = error_lines(result)
    assert line.startswith("Error: CIFAR-10 is not cached and could not be downloaded from "
                           "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (")
    assert line.endswith(f"): put cifar-10-python.tar.gz (or its cifar-10-batches-py/ folder) in "
                         f"{tmp_path / 'keras' / 'datasets'}/, or pass --data-dir DIR.")
    result = run_zoo("compare", "vgg16", "--data-dir", cifar, "--limit", "20", "--epochs", "1",
                     "--output", tmp_path / "b", env=offline, check=2)
    [line] = error_lines(result)
    assert line == ("vgg16 failed: ImageNet weights for vgg16 could not be downloaded "
                    "(vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5): put "
                    "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 in "
                    f"{tmp_path / 'keras' / 'models'}/, or pass --weights PATH or --weights none.")


def test_a_diverged_loss_is_written_as_strict_json(tmp_path):
    from zoo.results.run_folder import write_results

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    rows = [{"backbone": "a", "dataset": "d", "seed": 0, "trial": "a|d|seed 0", "status": "ok",
             "test_accuracy": 0.1, "train_step_ms": 1.0}]
    history = {"loss": [2.3, float("nan"), float("inf")], "val_loss": [2.2, 2.1, float("nan")],
               "accuracy": [0.1, 0.1, 0.1], "val_accuracy": [0.1, 0.1, 0.1]}
    write_results(rows, {"a|d|seed 0": history}, tmp_path)
    written = json.loads((tmp_path / "histories.json").read_text(), parse_constant=refuse)
    assert written["a|d|seed 0"]["loss"] == [2.3, None, None]
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert not list(tmp_path.glob(".*partial")), "every file was moved into place whole"
