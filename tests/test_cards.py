"""Every registered card checked against the backbone it builds (like timm's model tests)."""

import pytest

import zoo
from zoo.card import POOLINGS
from zoo.layers import freeze_index


@pytest.mark.parametrize("name", zoo.list_backbones())
def test_card_matches_built_model(name):
    card = zoo.get_backbone(name)
    assert card.problems() == []
    size = card.min_input_size
    model = card.build((size, size, 3), None)
    assert len(model.outputs) == 1
    assert len(model.output.shape) == 4, "a backbone without its top returns a feature map"
    assert model.output.shape[-1] > 0
    assert card.pooling in POOLINGS
    index = freeze_index(model, card.freeze_layer, name)
    assert 0 < index <= len(model.layers)
    if card.freeze_layer is not None:
        assert model.layers[index].name == card.freeze_layer
    assert card.min_input_size <= card.default_input_size
    assert callable(card.preprocess)


@pytest.mark.parametrize("name, layers, params, freeze_layer, index", [
    ("vgg16", 19, 14_714_688, None, 19),
    ("resnet50", 175, 23_587_712, "conv5_block1_1_conv", 143),
    ("densenet121", 427, 7_037_504, "conv5_block1_0_bn", 313),
])
def test_builtin_backbones_at_32(name, layers, params, freeze_layer, index):
    card = zoo.get_backbone(name)
    model = card.build((32, 32, 3), None)
    assert (len(model.layers), model.count_params()) == (layers, params)
    assert card.freeze_layer == freeze_layer
    assert freeze_index(model, card.freeze_layer, name) == index
    assert (card.min_input_size, card.default_input_size) == (32, 224)


def test_densenet_freeze_point_follows_the_last_transition():
    model = zoo.get_backbone("densenet121").build((32, 32, 3), None)
    assert model.layers[312].name == "pool4_pool"
