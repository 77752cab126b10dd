"""The training protocol in-process: model assembly, freezing, feature caching, loading data."""

import json

import keras
import numpy as np
import pytest

import zoo
from zoo.backbones.layers import count_params
from zoo.backbones.model import assemble
from zoo.core.recipe import Recipe
from zoo.data.datasets import DatasetSpec, Splits
from zoo.run.comparison import run
from zoo.run.plan import plan
from zoo.training.fitting import train_and_evaluate
from zoo.training.harness import run_backbone
from zoo.training.trials import Trial

from ..conftest import registered
from ..dataset_files import write_cifar10, write_image_folder

CIFAR10 = DatasetSpec("cifar10", "cifar10")



pytestmark = pytest.mark.usefixtures("tiny_backbone")  # registered for this module (tests/conftest.py)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return zoo.load_dataset("cifar10", write_cifar10(tmp_path_factory.mktemp("cifar"), n_train=120, n_test=40))


def test_vgg16_has_the_classic_recipe_parameter_counts():
    built = assemble(zoo.get_backbone("vgg16"), (32, 32, 3), 10, input_size=32, weights=None)
    # The classic recipe's summary: 14,848,586 parameters, 133,898 trainable, which is the head:
    # Flatten's 512 features -> Dense(256) -> Dense(10).
    assert built.model.count_params() == 14_848_586
    assert count_params(built.model.trainable_weights) == 133_898 == (512 * 256 + 256) + (256 * 10 + 10)
    assert built.freeze_index == 19 and built.cut == "block5_pool"


def test_resnet50_recommended_freeze_leaves_only_conv5_trainable():
    built = assemble(zoo.get_backbone("resnet50"), (32, 32, 3), 10, input_size=32, weights=None)
    layers = built.backbone.layers
    assert built.freeze_index == 143 and layers[143].name == "conv5_block1_1_conv"
    assert not any(layer.trainable for layer in layers[:143])
    assert all(layer.trainable for layer in layers[143:])
    assert built.cut == "conv4_block6_out"


@pytest.mark.slow  # slow: large; test_a_batch_norm_trains_only_if_not_frozen shows the same on tiny
def test_resnet50_frozen_batch_norm_keeps_its_statistics_and_conv5s_update():
    built = assemble(zoo.get_backbone("resnet50"), (32, 32, 3), 10, input_size=32, weights=None)
    # A frozen BatchNormalization runs in inference mode: a training step leaves its statistics alone,
    # while one in conv5 updates them.
    frozen_bn, trained_bn = built.backbone.get_layer("conv4_block6_3_bn"), built.backbone.get_layer("conv5_block3_3_bn")
    before = [keras.ops.convert_to_numpy(frozen_bn.moving_mean), keras.ops.convert_to_numpy(trained_bn.moving_mean)]
    built.model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    built.model.train_on_batch(x, np.arange(4))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(frozen_bn.moving_mean), before[0])
    assert not np.allclose(keras.ops.convert_to_numpy(trained_bn.moving_mean), before[1])


@pytest.mark.parametrize("freeze, trained", [("conv3", False), ("pool1", True)])
def test_a_batch_norm_trains_only_if_not_frozen(freeze, trained):
    """resnet50's check above on tiny's one BatchNormalization, bn2: frozen (tiny's card trains conv3
    alone) it runs in inference mode and a training step leaves its statistics alone; trained, it
    updates them."""
    built = assemble(zoo.get_backbone("tiny"), (32, 32, 3), 10, input_size=32, weights=None, freeze=freeze)
    bn = built.backbone.get_layer("bn2")
    assert bn.trainable == trained
    before = keras.ops.convert_to_numpy(bn.moving_mean)
    built.model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    built.model.train_on_batch(x, np.arange(4))
    after = keras.ops.convert_to_numpy(bn.moving_mean)
    if trained:
        assert not np.allclose(after, before)
    else:
        np.testing.assert_array_equal(after, before)


@pytest.mark.parametrize("freeze, index, cut", [
    ("all", 19, "block5_pool"), ("none", 0, "nothing is frozen"), ("11", 11, "block3_pool"),
    ("block4_conv1", 11, "block3_pool")])
def test_freeze_options(freeze, index, cut):
    built = assemble(zoo.get_backbone("vgg16"), (32, 32, 3), 10, input_size=32, weights=None,
                     freeze=freeze, pooling="max")
    assert built.freeze_index == index and built.cut == cut
    assert [layer.trainable for layer in built.backbone.layers] == [i >= index for i in range(19)]
    assert isinstance(built.model.get_layer("max_pool"), keras.layers.GlobalMaxPooling2D)


def test_small_images_are_resized_inside_the_model():
    built = assemble(zoo.get_backbone("tiny"), (16, 16, 3), 10, input_size=32, weights=None)
    assert built.model.input_shape == (None, 16, 16, 3)
    assert built.model.get_layer("resize").output.shape == (None, 32, 32, 3)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A folder of PNGs (4 classes, 16 each, 20x28): files, decoded a batch at a time."""
    root = tmp_path_factory.mktemp("photos")
    write_image_folder(root, classes=("a", "b", "c", "d"), per_class=16, size=(20, 28))
    return zoo.load_dataset(f"folder:{root}")


class DropoutInFrozenPart:
    """A card whose frozen layers hold a Dropout, as EfficientNet's blocks do (drop-connect)."""

    @staticmethod
    def build(input_shape, weights):
        image = keras.Input(input_shape, name="input")
        x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(image)
        x = keras.layers.Dropout(0.5, name="drop1")(x)
        x = keras.layers.MaxPooling2D(2, name="pool1")(x)
        x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(x)
        return keras.Model(image, x, name="tiny_dropout")

    @zoo.hookimpl
    def register_backbones(self, register):
        register(zoo.Backbone(name="tiny_dropout", build=self.build, preprocess="none", min_input_size=8,
                              default_input_size=32, freeze_layer="conv2", pooling="avg"))


@pytest.fixture(scope="module")
def tiny_dropout():
    with registered(DropoutInFrozenPart(), "tiny-dropout-plugin"):
        yield


@pytest.mark.parametrize("name, source", [("tiny", "data"), ("tiny", "folder"),
                                          # frozen Dropout ran in training mode without the cache (#31)
                                          ("tiny_dropout", "data"),
                                          pytest.param("efficientnetb0", "data", marks=pytest.mark.slow),  # 60 s
                                          pytest.param("resnet50", "data", marks=pytest.mark.slow)])  # slow: large
def test_cached_features_train_exactly_like_the_full_model(name, source, request, tmp_path):
    # For a folder, "the full model" reads the files, decoding each batch again every epoch.
    # Without the cache, the frozen layers run in inference mode, as they did when cached: the
    # same first-epoch loss (and every weight after), EfficientNet's Dropout in its frozen blocks
    # included.
    if name == "tiny_dropout":
        request.getfixturevalue("tiny_dropout")
    splits = Splits.from_data(request.getfixturevalue(source), 0.25, limit=64)
    card = zoo.get_backbone(name)
    weights, results, predictions = {}, {}, {}
    for cache in (True, False):
        keras.utils.clear_session()
        keras.utils.set_random_seed(3)
        built = assemble(card, splits.data_shape(32), 10, input_size=32, weights=None)
        recipe = Recipe(weights=None, epochs=2, batch_size=16, optimizer="adam", lr=1e-3)
        history, loss, accuracy, _, _, probabilities = train_and_evaluate(built, splits, recipe, use_cache=cache)
        predictions[cache] = probabilities.argmax(axis=-1)
        results[cache] = (history, loss, accuracy)
        weights[cache] = [keras.ops.convert_to_numpy(w) for w in built.model.weights]
    assert built.frozen is not None
    assert len(weights[True]) == len(weights[False])
    for cached, full in zip(weights[True], weights[False]):
        np.testing.assert_allclose(cached, full, rtol=1e-4, atol=1e-5)
    assert results[True][1:] == pytest.approx(results[False][1:], rel=1e-4)
    np.testing.assert_array_equal(predictions[True], predictions[False])  # the confusion matrix's input
    assert results[True][0]["val_loss"] == pytest.approx(results[False][0]["val_loss"], rel=1e-4)
    assert results[True][0]["loss"][0] == pytest.approx(results[False][0]["loss"][0], rel=1e-5)


@pytest.mark.shared_store
def test_training_changes_only_what_is_not_frozen(data, tmp_path):
    keras.utils.set_random_seed(0)
    built = assemble(zoo.get_backbone("tiny"), (32, 32, 3), 10, input_size=32, weights=None)
    before = {w.path: keras.ops.convert_to_numpy(w) for w in built.model.weights}
    recipe = Recipe(weights=None, epochs=1, batch_size=16, optimizer="adam", lr=1e-2)
    train_and_evaluate(built, Splits.from_data(data, 0.25, limit=64), recipe, use_cache=True)
    trainable = {w.path for w in built.model.trainable_weights}
    for weight in built.model.weights:
        unchanged = np.array_equal(before[weight.path], keras.ops.convert_to_numpy(weight))
        assert unchanged == (weight.path not in trainable), weight.path


@pytest.mark.parametrize("store", [True, pytest.param(False, marks=pytest.mark.slow)])  # quick: the store's map
def test_features_over_budget_train_memory_mapped(data, tmp_path, store):
    # Features larger than the memory budget stay on disk (the store's entry, or a throwaway file
    # with --no-store) and training reads them in batches: it trains, it does not stream images.
    splits = Splits.from_data(data, 0.2, 60)
    recipe = Recipe(weights=None, epochs=2, batch_size=16)
    over = run_backbone(zoo.get_backbone("tiny"), splits, Trial("tiny", CIFAR10, 0, recipe, cache_budget_mb=0.01,
                                                                store=store)).row
    assert over.feature_cache.startswith("memory-mapped at pool2 (features need")
    assert over.feature_store == ("miss" if store else None)
    within = run_backbone(zoo.get_backbone("tiny"), splits, Trial("tiny", CIFAR10, 0, recipe, store=store)).row
    assert within.feature_cache.startswith("cached at pool2")
    assert within.feature_store == ("hit" if store else None)
    # The same features and the same head: only the order of the batches differs.
    assert over.status == within.status == "ok"
    assert abs(over.test_accuracy - within.test_accuracy) <= 0.25


@pytest.mark.shared_store
def test_ctrl_c_keeps_what_finished(data, tmp_path):
    class Interrupts:
        @zoo.hookimpl
        def register_backbones(self, register):
            def build(shape, weights):
                raise KeyboardInterrupt

            register(zoo.Backbone(name="zz-interrupted", build=build, preprocess=lambda x: x, min_input_size=8,
                                  default_input_size=32, freeze_layer=None, pooling="avg"))

    folder = write_cifar10(tmp_path / "data", 60, 20)
    with registered(Interrupts(), "interrupts"):
        checked = plan(["tiny", "zz-interrupted", "vgg16"], "cifar10", data_dir=folder, output=tmp_path / "run",
                       given={"weights": None, "epochs": 1, "batch_size": 16})
        assert run(checked, progress=False).code == 130
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert {r["backbone"]: r["status"] for r in saved} == {"tiny": "ok", "zz-interrupted": "failed"}
    assert (tmp_path / "run" / "tiny.keras").exists()


FAMILIES = ["vgg16", "resnet50", "resnet50v2", "inceptionv3", "xception", "mobilenet", "mobilenetv2",
            "mobilenetv3small", "densenet121", "nasnetmobile", "efficientnetb0", "efficientnetv2b0", "convnexttiny"]


@pytest.mark.slow  # a build of each Keras family; quick, tiny_dropout above shows the same
@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_trains_without_the_cache_as_on_its_cached_features(name):
    """One training-mode step's output through the frozen layers (what trains without the cache)
    equals the trained part's on the cached features, with the same random draws: no frozen layer
    behaves otherwise in training (#31: EfficientNet's Dropout did)."""
    card = zoo.get_backbone(name)
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    size = card.min_input_size
    built = assemble(card, (size, size, 3), 10, input_size=size, weights=None)
    images = np.random.default_rng(0).uniform(0, 255, (4, size, size, 3)).astype("float32")
    features = built.frozen.predict(images, verbose=0)
    generators = [layer.seed_generator for layer in (*built.backbone.layers, *built.head)
                  if hasattr(layer, "seed_generator")]
    states = [keras.ops.convert_to_numpy(g.state) for g in generators]
    uncached = keras.ops.convert_to_numpy(built.trainer(images, training=True))
    for generator, state in zip(generators, states):
        generator.state.assign(state)
    cached = keras.ops.convert_to_numpy(built.trainable(features, training=True))
    np.testing.assert_allclose(uncached, cached, rtol=1e-3, atol=1e-4)
