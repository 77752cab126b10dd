"""keras-hub backbones (#22) on tiny random transformers: a layer per block, the freeze and the
cache, token pooling, size multiples, preset folders as weights, and the extra they need.
The real cards' walk is in tests/backbones/test_hub_catalogue.py."""

import json
import sys

import keras
import numpy as np
import pytest

import zoo
from zoo.backbones.blocks import flatten_blocks
from zoo.backbones.layers import find_cut, freeze_index, transformer_freeze_point
from zoo.backbones.model import assemble
from zoo.core.recipe import Recipe
from zoo.data.datasets import Splits
from zoo.plugins import import_plugin
from zoo.training.fitting import train_and_evaluate

from ..conftest import TESTS, registered
from ..dataset_files import write_cifar10

keras_hub = pytest.importorskip("keras_hub")
pytestmark = pytest.mark.usefixtures("tiny_hub")


@pytest.fixture(scope="module")
def tiny_hub():
    with registered(import_plugin(str(TESTS / "plugins" / "tiny_hub.py")), "tiny-hub-plugin"):
        yield


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    return write_cifar10(tmp_path_factory.mktemp("cifar"), n_train=80, n_test=20)


@pytest.fixture(scope="module")
def data(cifar):
    return zoo.load_dataset("cifar10", cifar)


def tiny(kind, size=32):
    """A tiny random keras-hub backbone of each family, as keras-hub builds it."""
    models = keras_hub.models
    common = dict(num_layers=4, num_heads=2, hidden_dim=8, image_shape=(size, size, 3))
    return {
        "vit": lambda: models.ViTBackbone(patch_size=8, mlp_dim=16, **common),
        "deit": lambda: models.DeiTBackbone(patch_size=8, intermediate_dim=16, **common),
        "dinov2": lambda: models.DINOV2Backbone(patch_size=8, intermediate_dim=16, layer_scale_init_value=1.0,
                                                position_embedding_shape=(64, 64), **common),
        "dinov3": lambda: models.DINOV3Backbone(patch_size=8, intermediate_dim=16, layer_scale_init_value=1.0,
                                                num_register_tokens=4, **common),
        "clip": lambda: models.CLIPVisionEncoder(patch_size=8, intermediate_dim=16, **common),
        "siglip": lambda: models.SigLIPVisionEncoder(patch_size=8, intermediate_dim=16, **common),
        "swin": lambda: models.SwinTransformerBackbone(image_shape=(size, size, 3), embed_dim=8, depths=[2, 2],
                                                       num_heads=[2, 2], window_size=2, patch_size=4),
    }[kind]()


@pytest.mark.parametrize("kind", ["vit", pytest.param("deit", marks=pytest.mark.slow),
                                  pytest.param("dinov2", marks=pytest.mark.slow), "dinov3",
                                  pytest.param("clip", marks=pytest.mark.slow),
                                  pytest.param("siglip", marks=pytest.mark.slow),
                                  pytest.param("swin", marks=pytest.mark.slow)])  # slow: each builds and saves one
def test_a_layer_per_block_with_the_same_outputs_and_a_cut(kind, tmp_path):
    """...and it saves and loads (as keras-hub's own config: some of its layers would not load alone)."""
    keras.utils.clear_session()
    nested = tiny(kind)
    flat = flatten_blocks(nested)
    images = np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 3)).astype("float32")
    given = {name: images for name in nested.input} if isinstance(nested.input, dict) else images
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(flat(images)), keras.ops.convert_to_numpy(nested(given)))
    assert flat.count_params() == nested.count_params()
    blocks = [layer.name for layer in flat.layers if "block" in layer.name or layer.name.startswith("layers_")]
    assert len(blocks) >= 4, [layer.name for layer in flat.layers]
    point = transformer_freeze_point(flat)
    cut = find_cut(flat, freeze_index(flat, point))[0]
    assert cut is not None, "the frozen blocks hand one tensor on"
    # Declared as it is: the feature cache sizes its arrays by the declared shape.
    assert tuple(cut.shape[1:]) == tuple(keras.Model(flat.input, cut)(images).shape[1:])
    assert tuple(flat.output.shape[1:]) == tuple(flat(images).shape[1:])
    flat.save(tmp_path / "flat.keras")
    loaded = keras.saving.load_model(tmp_path / "flat.keras")
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in flat.layers]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(images)), keras.ops.convert_to_numpy(flat(images)))


def test_layers_shows_the_blocks_and_the_last_quarter_trains(run_zoo):
    rows = json.loads(run_zoo("layers", "tiny_vit", "--json", check=0).stdout)
    trainable = [row["name"] for row in rows if row["trainable"]]
    assert trainable == ["transformer_block_4", "ln"]
    assert [row["name"] for row in rows].count("transformer_block_1") == 1


@pytest.mark.slow  # slow: two fits of a ViT (12 s); quick, the flattening test finds the cut, rank extracts there
def test_the_cached_blocks_train_exactly_like_the_full_model(data):
    """The recommended freeze caches the output of the last frozen block (transformer_block_3)."""
    splits = Splits.from_data(data, 0.25, limit=48)
    card = zoo.get_backbone("tiny_vit")
    weights = {}
    for cache in (True, False):
        keras.utils.clear_session()
        keras.utils.set_random_seed(3)
        built = assemble(card, splits.data_shape(32), 10, input_size=32, weights=None)
        assert built.cut == "transformer_block_3"
        recipe = Recipe(weights=None, epochs=2, batch_size=16, optimizer="adam", lr=1e-3)
        train_and_evaluate(built, splits, recipe, use_cache=cache)
        weights[cache] = [keras.ops.convert_to_numpy(w) for w in built.model.weights]
    changed = 0
    for cached, full in zip(weights[True], weights[False]):
        np.testing.assert_allclose(cached, full, rtol=1e-4, atol=1e-5)
    keras.utils.clear_session()
    keras.utils.set_random_seed(3)
    fresh = assemble(card, splits.data_shape(32), 10, input_size=32, weights=None)
    for before, after in zip(fresh.model.weights, weights[True]):
        changed += not np.array_equal(keras.ops.convert_to_numpy(before), after)
    assert changed > 0, "training moved the trainable blocks and the head"


@pytest.mark.parametrize("pooling, expected", [("cls", lambda t: t[:, 0]), ("mean", lambda t: t[:, 1:].mean(axis=1))])
def test_token_pooling_takes_the_cls_token_or_the_patch_mean(pooling, expected):
    keras.utils.clear_session()
    built = assemble(zoo.get_backbone("tiny_vit"), (32, 32, 3), 10, input_size=32, weights=None, pooling=pooling)
    images = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    pool = built.model.get_layer(f"{pooling}_pool")
    tokens, pooled = keras.Model(built.model.input, [pool.input, pool.output])(images)
    assert tokens.shape == (2, 17, 16)  # the CLS token and 16 patches
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pooled), expected(keras.ops.convert_to_numpy(tokens)),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("args, message", [
    (["--pooling", "avg"], "--pooling avg does not fit tiny_vit, whose output is tokens: use cls or mean"),
    (["--input-size", "36"], "input size 36 is not a multiple of 8 for tiny_vit (its patch grid): "
                             "use --input-size 32 or 40."),
    (["--weights", "imagenet", "--input-size", "40"], "tiny_vit's pretrained weights load at 32 alone"),
])
def test_what_does_not_fit_a_transformer_is_one_line(run_zoo, tmp_path, args, message):
    result = run_zoo("compare", "tiny_vit", "--dataset", "cifar10", "--data-dir", str(tmp_path), *args, check=2)
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_wrong_preset_folder_names_the_files_expected(run_zoo, tmp_path):
    (tmp_path / "model.weights.h5").write_bytes(b"")
    result = run_zoo("compare", "tiny_vit", "--weights", str(tmp_path), check=2)
    assert result.stderr.strip() == (
        f"Error: weights folder {tmp_path} has no config.json for tiny_vit: give a folder with the preset of "
        "tiny_vit: config.json with model.weights.h5 (keras-hub's save_to_preset), or config.json with "
        "model.safetensors (Hugging Face transformers or timm), or use --weights imagenet or --weights none.")


def test_without_keras_hub_the_cards_list_and_a_run_names_the_extra(run_zoo, monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_hub", None)  # as if it were not installed
    rows = {row["name"]: row for row in json.loads(run_zoo("list", "--json", check=0).stdout)}
    assert rows["tiny_vit"]["needs"] == "zoo[hub]" and rows["vgg16"]["needs"] is None
    for command in (["compare", "tiny_vit"], ["rank", "tiny_vit"], ["bench", "tiny_vit"]):
        result = run_zoo(*command, check=2)
        assert result.stderr.strip() == 'Error: tiny_vit needs keras-hub: pip install "zoo[hub]".'


def features(card_name, weights, size=32):
    """The backbone's output for fixed images, built as zoo builds it with ``--weights``."""
    from zoo.backbones.model import build_backbone

    keras.utils.clear_session()
    model = build_backbone(zoo.get_backbone(card_name), size, weights)
    images = np.random.default_rng(2).uniform(0, 1, (2, size, size, 3)).astype("float32")
    return keras.ops.convert_to_numpy(model(images)), model


@pytest.mark.slow  # slow: two saves and loads; quick, another_patch_grid loads such a folder
def test_a_keras_hub_preset_folder_loads_as_weights(tmp_path):
    """keras-hub's own format (save_to_preset): the features are the saved backbone's, and change with the file."""
    from ..hub_files import write_keras_hub_preset

    outputs = []
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        saved = tiny_vit_backbone()
        folder = write_keras_hub_preset(tmp_path / f"preset{seed}", saved)
        got, _ = features("tiny_vit", str(folder))
        images = np.random.default_rng(2).uniform(0, 1, (2, 32, 32, 3)).astype("float32")
        np.testing.assert_allclose(got, keras.ops.convert_to_numpy(saved(images)), rtol=1e-5, atol=1e-6)
        outputs.append(got)
    assert not np.allclose(outputs[0], outputs[1])


def tiny_vit_backbone():
    return keras_hub.models.ViTBackbone(image_shape=(32, 32, 3), patch_size=8, num_layers=4, num_heads=2,
                                        hidden_dim=16, mlp_dim=32)


def test_a_hugging_face_folder_loads_as_weights(tmp_path):
    from ..hub_files import write_hf_vit

    got = [features("tiny_vit", str(write_hf_vit(tmp_path / f"hf{seed}", layers=4, seed=seed)))[0] for seed in (0, 1)]
    assert got[0].shape == (2, 17, 16) and not np.allclose(got[0], got[1])


@pytest.mark.slow  # a resnet18 (47 MB of safetensors): the smallest timm architecture keras-hub converts
def test_a_timm_folder_loads_as_weights_with_its_mean_and_std(tmp_path):
    from ..hub_files import write_timm_resnet

    got = [features("resnet50_v1_5", str(write_timm_resnet(tmp_path / f"timm{seed}", seed=seed)), size=64)
           for seed in (0, 1)]
    assert got[0][0].shape == (2, 2, 2, 512) and not np.allclose(got[0][0], got[1][0])
    built = assemble(zoo.get_backbone("resnet50_v1_5"), (64, 64, 3), 10, input_size=64,
                     weights=str(tmp_path / "timm0"))
    scale = built.model.get_layer("preprocess").scale  # timm's pretrained_cfg mean and std, not the card's mode
    np.testing.assert_allclose(scale, [1 / (255 * s) for s in (0.229, 0.224, 0.225)], rtol=1e-4)


@pytest.mark.slow  # slow: three ranks (7 s); quick, the preset folder tests load the same folders
def test_rank_reads_a_preset_folder_and_the_store_tells_two_folders_apart(tmp_path, cifar):
    from ..hub_files import write_keras_hub_preset

    folders = []
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        folders.append(write_keras_hub_preset(tmp_path / f"preset{seed}", tiny_vit_backbone()))
    rows = [zoo.rank("tiny_vit", "cifar10", data_dir=cifar, weights=str(folder), limit=40, progress=False).iloc[0]
            for folder in (folders[0], folders[1], folders[0])]
    assert rows[0]["pooling"] == "cls" and rows[0]["feature_dim"] == 16
    assert rows[0]["logme"] != rows[1]["logme"]
    assert (rows[0]["feature_store"], rows[1]["feature_store"], rows[2]["feature_store"]) == ("miss", "miss", "hit")


def test_pretrained_weights_that_cannot_be_had_are_one_line_naming_the_preset(run_zoo, tmp_path):
    """keras-hub's download fails (no network here; the tiny card's preset does not exist anywhere)."""
    result = run_zoo("compare", "tiny_vit", "--weights", "imagenet", "--dataset", "synthetic", "--limit", "20",
                     "--output", str(tmp_path / "run"), "--json", check=2)
    [row] = json.loads(result.stdout)
    assert row["status"] == "failed" and row["error"].startswith(
        "ImageNet weights for tiny_vit could not be downloaded (keras-hub preset tiny_vit_has_no_preset, ")
    assert row["error"].endswith("or pass --weights DIR (a preset folder) or --weights none.")


def test_a_preset_folder_for_another_patch_grid_names_its_size(tmp_path):
    from ..hub_files import write_keras_hub_preset

    folder = write_keras_hub_preset(tmp_path / "preset", tiny_vit_backbone())
    with pytest.raises(zoo.BadInput, match=r"take 32x32 images, not 40x40: give --input-size 32\.$"):
        features("tiny_vit", str(folder), size=40)


def test_all_leaves_out_the_hub_cards_without_keras_hub_and_says_so(monkeypatch):
    from zoo.backbones.selection import choose

    monkeypatch.setitem(sys.modules, "keras_hub", None)  # as if it were not installed
    with pytest.warns(UserWarning, match=r'--all leaves out the \d+ backbones whose packages are not installed '
                                         r'\(pip install "zoo\[hub\]" adds them\)'):
        chosen = choose([], all_=True)
    assert "vgg16" in chosen and "tiny_vit" not in chosen and "vit_b16" not in chosen
    monkeypatch.delitem(sys.modules, "keras_hub")
    assert "vit_b16" in choose([], all_=True)


def test_a_kept_model_keeps_its_freeze(tmp_path):
    """Loaded to train on, a kept hub model trains what it trained (its blocks frozen as they were)."""
    from zoo.training.fitting import keep_model

    keras.utils.clear_session()
    built = assemble(zoo.get_backbone("tiny_vit"), (32, 32, 3), 10, input_size=32, weights=None)
    keep_model(built.model, tmp_path / "tiny_vit.keras")
    loaded = keras.saving.load_model(tmp_path / "tiny_vit.keras")
    backbone = next(layer for layer in loaded.layers if type(layer).__name__ == "FlatBackbone")
    assert {layer.name: layer.trainable for layer in backbone.layers if layer.weights} == \
        {layer.name: layer.trainable for layer in built.backbone.layers if layer.weights}
    assert [w.name for w in loaded.trainable_weights] == [w.name for w in built.model.trainable_weights]


def test_imagenet_leaves_out_a_card_without_pretrained_weights_unless_it_is_named():
    """vit_s16 has no keras-hub preset: `--all` or a pattern runs the others, naming it refuses."""
    from zoo.run.plan import plan

    with pytest.warns(UserWarning, match="--weights imagenet leaves out vit_s16: no pretrained weights to download"):
        chosen = plan("vit_*", "synthetic", given={}, store=False).trials
    assert sorted({trial.backbone for trial in chosen}) == ["vit_b16", "vit_l16"]
    with pytest.raises(zoo.BadInput, match="vit_s16 has no pretrained weights to download: pass --weights DIR"):
        plan(["vit_s16"], "synthetic", given={}, store=False)
    assert {t.backbone for t in plan("vit_*", "synthetic", given={"weights": None}, store=False).trials} == \
        {"vit_s16", "vit_b16", "vit_l16"}


def test_a_preset_folder_of_another_family_is_refused_naming_what_it_holds(tmp_path):
    from ..hub_files import write_hf_vit

    folder = write_hf_vit(tmp_path / "vit")
    with pytest.raises(zoo.BadInput, match=r"hold a keras-hub ViTBackbone, not resnet50_v1_5's ResNetBackbone"):
        features("resnet50_v1_5", str(folder))
