"""The keras-hub cards (#22): every card built offline with random weights and checked against
what it says (the card walk, as tests/backbones/test_catalogue.py walks the Keras ones).

Building them takes seconds to minutes on a CPU: the quick run checks the cards' data alone, and
CI walks them all.
"""

import keras
import pytest

import zoo
from zoo.backbones.catalogue import builtin_names
from zoo.backbones.cost import gmacs
from zoo.backbones.layers import find_cut, freeze_index, last_stage_start, transformer_freeze_point
from zoo.backbones.model import build_backbone
from zoo.core.card import poolings_for

pytest.importorskip("keras_hub")
pytestmark = pytest.mark.shared_store  # no test here looks at the feature store

HUB = [name for name in builtin_names() if zoo.get_backbone(name).requires == "hub"]


def walk(quick=()):  # the quick tier's hub tests use tiny transformers (tests/backbones/test_hub.py)
    return [name if name in quick else pytest.param(name, marks=pytest.mark.slow) for name in HUB]


def test_the_hub_families_are_registered():
    assert {"vit_s16", "vit_b16", "vit_l16", "deit_ti", "deit_s", "deit_b", "dinov2_s", "dinov2_b", "dinov2_l",
            "dinov2_reg_s", "dinov2_reg_b", "dinov2_reg_l", "dinov3_s", "dinov3_b", "clip_b16", "clip_b32",
            "siglip_b16", "swin_t", "swin_s", "swin_b", "resnet50_v1_5", "cspdarknet53"} <= set(HUB)
    for name in HUB:
        card = zoo.get_backbone(name)
        assert card.problems() == [] and card.weights_folder
        assert card.default_input_size % card.size_multiple == 0 and card.min_input_size % card.size_multiple == 0
        if card.published and card.published.top1:
            assert card.published.source and card.published.top1_protocol in ("fine-tuned", "linear probe")


@pytest.mark.parametrize("name", walk())
def test_hub_card_walk_at_the_default_input_size(name):
    """Params, GMACs at each size, the freeze point zoo's rule places, the output the pooling reads."""
    card = zoo.get_backbone(name)
    size = card.default_input_size
    # The default size last, so that its model is the one checked below (not built twice).
    for at, expected in sorted(card.gmacs.items(), key=lambda item: (item[0] == size, item[0])):
        keras.utils.clear_session(free_memory=True)
        model = build_backbone(card, at, None)
        assert gmacs(model) == pytest.approx(expected, abs=1e-3), at
    if size not in card.gmacs:
        keras.utils.clear_session(free_memory=True)
        model = build_backbone(card, size, None)
    assert model.count_params() == card.params
    rule = last_stage_start if card.output == "map" else transformer_freeze_point
    assert rule(model) == card.freeze_layer
    if card.freeze_layer:
        cut = find_cut(model, freeze_index(model, card.freeze_layer, name))[0]
        assert cut is not None, "its features cache"
        keras.Model(cut, model.output)  # ...and the trained part starts there
    shape = tuple(model.output.shape[1:])
    assert len(shape) == {"map": 3, "tokens": 2, "vector": 1}[card.output]
    if card.output == "tokens" and card.prefix_tokens:  # the CLS (and distillation, register) tokens, then patches
        patches = (size // card.size_multiple) ** 2
        assert shape[0] == card.prefix_tokens + patches
    assert card.pooling in poolings_for(card)


@pytest.mark.parametrize("name", walk(quick=()))  # quick, tests/backbones/test_hub.py refuses a non-multiple in one line
def test_hub_card_walk_at_the_min_input_size(name):
    """The smallest input it takes builds and runs; one pixel less than the multiple is refused in one line."""
    card = zoo.get_backbone(name)
    keras.utils.clear_session(free_memory=True)
    size = card.min_input_size
    model = build_backbone(card, size, None)
    assert model(keras.ops.zeros((1, size, size, 3))).shape[0] == 1
    if card.size_multiple > 1:
        from zoo.backbones.checks import check_input_size
        from zoo.errors import BadInput

        with pytest.raises(BadInput, match="not a multiple"):
            check_input_size(card, size + 1)
