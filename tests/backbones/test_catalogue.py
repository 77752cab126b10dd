"""The Keras Applications catalogue: every card checked against the backbone it builds (the card
walk, like timm's model tests), the cost counter against published figures, and the README's
table against the cards.

Building the large backbones takes long on a CPU, so a quick run (`-m "not slow"`) walks one or two
backbones of each family at the min input size and a few families at the default size; the rest
are marked slow, and CI walks all 40 at every size.
"""

import keras
import pytest

import zoo
from zoo.backbones.catalogue import README_BEGIN, README_END, builtin_names, markdown_table
from zoo.backbones.cost import gmacs
from zoo.backbones.layers import find_cut, freeze_index, last_stage_start
from zoo.backbones.selection import card_row, select_backbones

from ..conftest import TESTS

pytestmark = pytest.mark.shared_store  # no test here looks at the feature store

# Over about 5 s to build at their default size on 2 CPU cores.
HEAVY = {"nasnetlarge", "efficientnetb5", "efficientnetb6", "efficientnetb7", "efficientnetv2m", "efficientnetv2l",
         "convnextbase", "convnextlarge", "convnextxlarge", "inceptionresnetv2", "resnet152", "resnet152v2",
         "efficientnetv2s", "densenet201"}


# The 40 of keras.applications (the keras-hub cards walk in tests/backbones/test_hub_catalogue.py).
KERAS = [name for name in builtin_names() if not zoo.get_backbone(name).requires]


def walk(names, quick=None):
    """The names as test parameters, the heavy ones (or all but ``quick``) marked slow."""
    slow = HEAVY if quick is None else set(names) - set(quick)
    return [pytest.param(n, marks=pytest.mark.slow) if n in slow else n for n in names]


def test_the_whole_keras_zoo_is_registered():
    names = KERAS
    assert len(names) == 40
    assert {"efficientnetv2b0", "convnexttiny", "mobilenetv3small", "inceptionresnetv2", "nasnetlarge",
            "vgg16", "resnet50", "densenet121"} <= set(names)


# One or two of each family file (the cheapest), for the quick run.
FAMILIES = ["vgg16", "resnet50", "resnet50v2", "inceptionv3", "xception", "mobilenetv2",
            "mobilenetv3small", "densenet121", "nasnetmobile", "efficientnetb0", "efficientnetv2b0", "convnexttiny"]


@pytest.mark.parametrize("name", walk(KERAS, quick=FAMILIES))
def test_card_walk_at_the_min_input_size(name):
    card = zoo.get_backbone(name)
    keras.utils.clear_session(free_memory=True)
    size = card.min_input_size
    model = card.build((size, size, 3), None)
    assert len(model.output.shape) == 4 and all(d >= 1 for d in model.output.shape[1:]), "a feature map"
    index = freeze_index(model, card.freeze_layer, name)  # the freeze layer exists
    cut = find_cut(model, index)[0]
    assert cut is not None, "the frozen part hands one tensor on: its features cache"
    # ...and it splits the model: the frozen part ends there and the trained part starts there
    # (ConvNeXt's cut once left its residual out, and no trained part could be built: #31).
    keras.Model(model.input, cut)
    if cut is not model.output:
        keras.Model(cut, model.output)
    assert model.count_params() == card.params
    if size in card.gmacs:  # the card gives 32 px, and its default size
        assert card.gmacs[size] == pytest.approx(gmacs(model), abs=1e-3)
    with pytest.raises(ValueError):  # Keras checks the minimum, for every one of the 40
        card.build((size - 1, size - 1, 3), None)


# The quick tier walks two at their default size (the min-size walk covers every family); CI walks all.
@pytest.mark.parametrize("name", walk(KERAS, quick=["vgg16", "mobilenetv2"]))
def test_card_walk_at_the_default_input_size(name):
    """GMACs as the card says at every size it gives, and the freeze layer zoo's one rule places."""
    card = zoo.get_backbone(name)
    for size, expected in card.gmacs.items():
        keras.utils.clear_session(free_memory=True)
        model = card.build((size, size, 3), None)
        assert gmacs(model) == pytest.approx(expected, abs=1e-3), size
        if size == card.default_input_size:
            assert last_stage_start(model) == card.freeze_layer
    assert card.default_input_size in card.gmacs


@pytest.mark.parametrize("name, published, without_classifier", [
    # timm and torchvision at 224 px, with their classifiers (Dense 25088-4096-4096-1000 for VGG16).
    ("vgg16", 15.47, (25088 * 4096 + 4096 * 4096 + 4096 * 1000) / 1e9),
    ("densenet121", 2.87, 1024 * 1000 / 1e9),
    # Keras's ResNet50 is the original v1: He et al. 2016, Table 1, 3.8 x 10^9 multiply-adds.
    ("resnet50", 3.8, 2048 * 1000 / 1e9),
])
def test_gmacs_agree_with_published_figures(name, published, without_classifier):
    """zoo counts the backbone without its classifier; the published figures include it."""
    keras.utils.clear_session()
    model = zoo.get_backbone(name).build((224, 224, 3), None)
    counted = gmacs(model) + without_classifier
    assert counted == pytest.approx(published, rel=0.03)
    assert zoo.get_backbone(name).gmacs[224] == pytest.approx(gmacs(model), abs=1e-3)


def test_the_three_classic_cards_kept_what_they_had():
    cards = {n: zoo.get_backbone(n) for n in ("vgg16", "resnet50", "densenet121")}
    assert [c.freeze_layer for c in cards.values()] == [None, "conv5_block1_1_conv", "conv5_block1_0_bn"]
    assert [c.pooling for c in cards.values()] == ["flatten", "avg", "avg"]
    assert [c.params for c in cards.values()] == [14_714_688, 23_587_712, 7_037_504]
    assert [c.preprocess for c in cards.values()] == ["caffe", "caffe", "torch"]


def test_list_rows_come_from_the_cards_with_their_figures(run_zoo):
    rows = {row["name"]: row for row in __import__("json").loads(run_zoo("list", "--json", check=0).stdout)}
    assert len(rows) >= 40
    vgg = rows["vgg16"]
    assert {"name", "plugin", "min_input_size", "default_input_size", "freeze_layer", "pooling", "preprocess",
            "params", "gmacs", "imagenet_top1"} <= set(vgg)
    assert (vgg["params"], vgg["gmacs"], vgg["imagenet_top1"], vgg["preprocess"]) == (14_714_688, 15.347, 0.713, "caffe")
    assert rows["xception"]["min_input_size"] == 71 and rows["inceptionv3"]["default_input_size"] == 299


def test_list_filters_and_sorts(run_zoo):
    import json

    names = [r["name"] for r in json.loads(run_zoo("list", "efficientnet*", "--sort", "params", "--json",
                                                   check=0).stdout)]
    assert names[0] == "efficientnetb0" and len(names) == 15 and all(n.startswith("efficientnet") for n in names)
    small = json.loads(run_zoo("list", "--max-params", "5M", "--max-gmacs", "0.5", "--json", check=0).stdout)
    assert small and all(r["params"] <= 5_000_000 and r["gmacs"] <= 0.5 for r in small)
    best = json.loads(run_zoo("list", "--sort", "top1", "--json", check=0).stdout)
    top1 = [r["imagenet_top1"] for r in best if r["imagenet_top1"] is not None]
    assert top1 == sorted(top1, reverse=True) and best[0]["name"] == "convnextxlarge"
    assert run_zoo("list", "--max-params", "many").returncode == 2


def test_info_builds_one_backbone_at_the_size_asked(run_zoo):
    import json

    info = json.loads(run_zoo("info", "resnet50", "--json", check=0).stdout)
    assert (info["freeze_index"], info["cut"], info["input_size"]) == (143, "conv4_block6_out", 224)
    assert info["gmacs_at_size"] == 3.856 and info["published_top1"] == 0.749
    small = json.loads(run_zoo("info", "resnet50", "--input-size", "32", "--json", check=0).stdout)
    assert small["gmacs_at_size"] == 0.079 and small["params_at_size"] == 23_587_712
    assert run_zoo("info", "xception", "--input-size", "64").returncode == 2


def test_a_third_party_card_without_figures_lists_with_blanks():
    from zoo.plugins import import_plugin

    from ..conftest import TINY_PLUGIN, registered

    with registered(import_plugin(str(TINY_PLUGIN)), "tiny-catalogue"):
        row = card_row("tiny")
        assert (row["params"], row["gmacs"], row["imagenet_top1"], row["preprocess"]) == (None, None, None, "custom")
        assert "tiny" not in select_backbones(max_params="100M"), "a limit leaves out what it cannot judge"
        assert "tiny" in select_backbones(["t*"])


def test_the_readme_catalogue_is_the_cards():
    readme = (TESTS.parent / "README.md").read_text()
    assert README_BEGIN in readme and README_END in readme
    written = readme.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip()
    assert written == markdown_table(builtin_names()), "run: python scripts/catalogue.py table --write-readme"


def test_compare_and_bench_choose_by_pattern_and_limit_and_print_the_plan(run_zoo, tmp_path):
    import json

    # A layer vgg16 lacks: its trial fails once built, after the plan line, with nothing trained.
    result = run_zoo("compare", "vgg1*", "--max-params", "15M", "--dataset", "synthetic", "--limit", "20",
                     "--epochs", "1", "--batch-size", "8", "--weights", "none", "--save-models", "none",
                     "--freeze", "no_such_layer", "--output", tmp_path, "--json", check=2)
    assert [row["backbone"] for row in json.loads(result.stdout)] == ["vgg16"], "vgg19 has 20M parameters"
    assert "Plan: 1 backbone (vgg16); about 0.313 GMACs per image through them all" in result.stderr
    result = run_zoo("bench", "mobilenetv3*", "--max-gmacs", "0.1", "--mode", "infer", "--steps", "1",
                     "--warmup", "0", "--batch-size", "2", check=0)
    # bench runs each at its min input size, 32 px, unless --input-size says otherwise
    assert "Plan: 1 backbone (mobilenetv3small); about 0.002 GMACs per image through them all." in result.stderr
    assert run_zoo("compare", "--all", "--max-gmacs", "0.0001", "--dataset", "synthetic").returncode == 2


def test_all_chooses_every_backbone_within_the_limits():
    from zoo.backbones.selection import choose

    assert choose([], all_=True) == zoo.list_backbones()
    assert choose([], all_=True, max_gmacs=0.1) == ["mobilenetv3small"]
    assert choose(["vgg19", "vgg16"]) == ["vgg19", "vgg16"], "names alone keep the user's order"
