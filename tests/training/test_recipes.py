"""Recipes: heads through the plugin system, two-stage fine-tuning, grey and small images."""

import keras
import numpy as np
import pytest

import zoo
from zoo.backbones.layers import count_params, resolve_unfreeze
from zoo.backbones.model import assemble
from zoo.core.recipe import Recipe
from zoo.data.datasets import DatasetSpec, Splits
from zoo.training.harness import run_backbone
from zoo.training.trials import Trial

from ..conftest import registered
from ..dataset_files import learnable_images

LEARNABLE = DatasetSpec("learnable", "learnable")  # arrays made here: no card to look up


pytestmark = [pytest.mark.usefixtures("tiny_backbone"),  # registered for this module (tests/conftest.py)
              pytest.mark.shared_store]  # no test here looks at the feature store


def head_names(built):
    """The layers after the backbone, in order."""
    layers = built.model.layers
    return [layer.name for layer in layers[[layer.name for layer in layers].index("tiny") + 1:]]


def test_the_three_built_in_heads():
    tiny = zoo.get_backbone("tiny")
    dense = assemble(tiny, (32, 32, 3), 10, input_size=32, weights=None, head="dense", dropout=0.3)
    assert head_names(dense) == ["avg_pool", "head_dense", "head_dropout", "predictions"]
    assert dense.model.get_layer("head_dropout").rate == 0.3

    bn = assemble(tiny, (32, 32, 3), 10, input_size=32, weights=None, head="bn", dropout=0.25, freeze="all")
    assert head_names(bn) == ["avg_pool", "head_dropout_0", "head_dense_1", "head_bn_1", "head_dropout_1",
                              "head_dense_2", "head_bn_2", "head_dropout_2", "predictions"]
    assert {layer.rate for layer in bn.model.layers if isinstance(layer, keras.layers.Dropout)} == {0.25}
    # tiny ends in 8 channels: 8*128+128, 4*128 (BN), 128*128+128, 4*128, 128*10+10
    assert bn.trainable.count_params() == 1152 + 512 + 16512 + 512 + 1290

    linear = assemble(tiny, (32, 32, 3), 10, input_size=32, weights=None, head="linear", freeze="all")
    assert head_names(linear) == ["avg_pool", "predictions"]
    assert linear.trainable.count_params() == 8 * 10 + 10


def test_a_plugin_can_add_a_head_and_unknown_heads_are_named():
    class WideHead:
        @zoo.hookimpl
        def register_heads(self, register):
            register(zoo.Head("zz-wide", lambda classes, dropout: [
                keras.layers.Dense(1024, activation="relu", name="wide"),
                keras.layers.Dense(classes, activation="softmax", name="predictions")]))

    tiny = zoo.get_backbone("tiny")
    with registered(WideHead(), "wide-head"):
        assert "zz-wide" in zoo.list_heads()
        built = assemble(tiny, (32, 32, 3), 7, input_size=32, weights=None, head="zz-wide")
        assert built.model.output.shape[-1] == 7 and built.model.get_layer("wide").units == 1024
    with pytest.raises(zoo.BadInput, match=r"unknown head 'zz-wide'\. Known heads: bn, dense, linear"):
        assemble(tiny, (32, 32, 3), 7, input_size=32, weights=None, head="zz-wide")


def test_a_head_must_end_in_its_classifier():
    class Headless:
        @zoo.hookimpl
        def register_heads(self, register):
            register(zoo.Head("zz-headless", lambda classes, dropout: [keras.layers.Dense(classes)]))

    with registered(Headless(), "headless"), \
            pytest.raises(zoo.BadInput, match="must end in a layer named 'predictions'"):
        assemble(zoo.get_backbone("tiny"), (32, 32, 3), 10, input_size=32, weights=None, head="zz-headless")


def test_grey_small_images_are_adapted_inside_the_model(tmp_path):
    built = assemble(zoo.get_backbone("vgg16"), (28, 28, 1), 10, input_size=32, weights=None)
    assert tuple(built.model.input.shape) == (None, 28, 28, 1)
    assert [layer.name for layer in built.model.layers[1:4]] == ["resize", "grey_to_rgb", "preprocess"]
    grey = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 1)).astype("float32")
    predictions = built.model.predict(grey, verbose=0)
    assert predictions.shape == (2, 10)
    # The saved model takes the dataset's own images, adapters included.
    built.model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(grey, verbose=0), predictions, rtol=1e-5, atol=1e-6)


def test_unfreeze_defaults_and_refusals():
    vgg = assemble(zoo.get_backbone("vgg16"), (32, 32, 3), 10, input_size=32, weights=None)
    # VGG16's card freezes it all: stage two unfreezes its last block.
    assert vgg.backbone.layers[resolve_unfreeze(None, vgg.card, vgg.backbone, 19)].name == "block5_conv1"
    resnet = assemble(zoo.get_backbone("resnet50"), (32, 32, 3), 10, input_size=32, weights=None, freeze="all")
    assert resolve_unfreeze(None, resnet.card, resnet.backbone, 175) == 143
    with pytest.raises(zoo.BadInput, match="nothing to unfreeze, stage one already trains resnet50 from "
                                           "conv5_block1_1_conv"):
        resolve_unfreeze("conv5_block2_1_conv", resnet.card, resnet.backbone, 143)
    with pytest.raises(zoo.BadInput, match="layer 'no_such' is not in resnet50"):
        resolve_unfreeze("no_such", resnet.card, resnet.backbone, 175)


def learnable_splits(n_train=160, n_test=60):
    rng = np.random.default_rng(3)
    train_labels, test_labels = rng.integers(0, 10, n_train), rng.integers(0, 10, n_test)
    data = zoo.ImageData("learnable", learnable_images(train_labels, 1), train_labels,
                         learnable_images(test_labels, 2), test_labels, [str(i) for i in range(10)], "memory")
    return Splits.from_data(data, 0.2)


@pytest.mark.slow  # 400 images, 3 epochs (5 s); quick, test_the_three_built_in_heads builds the bn head
def test_the_bn_head_trains_and_learns_its_batch_statistics(tmp_path):
    recipe = Recipe(weights=None, epochs=3, batch_size=16, optimizer="adam", lr=3e-3, head="bn", dropout=0.2,
                    freeze="all")
    splits = learnable_splits(400, 100)
    outcome = run_backbone(zoo.get_backbone("tiny"), splits, Trial("tiny", LEARNABLE, 0, recipe, str(tmp_path)))
    row = outcome.row.to_dict()
    assert row["status"] == "ok" and row["head"] == "bn"
    # It learns (on batch statistics; its moving averages lag behind over 60 steps, so the
    # validation accuracy is not the measure here).
    assert outcome.history["accuracy"][-1] > 0.3, "a learnable pattern: well above the 10% of chance"
    # Unlike a frozen backbone's, the head's BatchNormalization trains: its statistics moved.
    model = keras.saving.load_model(tmp_path / "tiny.keras")
    for name in ("head_bn_1", "head_bn_2"):
        assert not np.allclose(keras.ops.convert_to_numpy(model.get_layer(name).moving_mean), 0.0), name
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])  # saved without its optimizer
    assert model.evaluate(splits.x_test, splits.y_test, verbose=0)[1] == pytest.approx(row["test_accuracy"])


def test_two_stage_fine_tuning(tmp_path):
    recipe = Recipe(weights=None, epochs=2, batch_size=16, optimizer="adam", lr=3e-3, finetune_epochs=2,
                    finetune_lr=1e-4, unfreeze_from="conv2")
    splits = learnable_splits(400, 100)
    outcome = run_backbone(zoo.get_backbone("tiny"), splits, Trial("tiny", LEARNABLE, 0, recipe, str(tmp_path)))
    row, history = outcome.row.to_dict(), outcome.history

    model = keras.saving.load_model(tmp_path / "tiny.keras")
    backbone = model.get_layer("tiny")
    head = [layer for layer in model.layers[model.layers.index(backbone) + 1:]]
    head_params = count_params([w for layer in head for w in layer.trainable_weights])
    conv2, conv3 = backbone.get_layer("conv2"), backbone.get_layer("conv3")
    # Stage one trains the head alone; stage two adds conv2 and conv3, but not bn2 between them.
    assert row["trainable_params"] == head_params
    assert row["finetune_trainable_params"] == head_params + conv2.count_params() + conv3.count_params()
    assert row["unfreeze_from"] == "conv2" and row["freeze_layer"] is None
    assert [layer.name for layer in backbone.layers if layer.trainable and layer.weights] == ["conv2", "conv3"]
    # BatchNormalization stayed in inference mode in both stages: its statistics never moved from
    # their initial values (a training-mode step on these images would have moved them).
    bn2 = backbone.get_layer("bn2")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(bn2.moving_mean), np.zeros(8))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(bn2.moving_variance), np.ones(8))
    # The curves hold both stages.
    assert len(history["val_accuracy"]) == 4 and history["finetune_start"] == 2
    assert row["test_accuracy"] > 0.3, "a learnable pattern: well above the 10% of chance"
    # The saved model is the one the row describes.
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])  # saved without its optimizer
    assert model.evaluate(splits.x_test, splits.y_test, verbose=0)[1] == pytest.approx(row["test_accuracy"])
