"""The classic three cards at 32 px, as the classic recipe uses them (tests/backbones/test_catalogue.py walks all 40)."""

import functools

import pytest

import zoo
from zoo.backbones.layers import freeze_index


@functools.cache
def built_at_32(name):
    """Each backbone built once at 32 px for this module (densenet121 takes a second or two)."""
    return zoo.get_backbone(name).build((32, 32, 3), None)


@pytest.mark.parametrize("name, layers, params, freeze_layer, index", [
    ("vgg16", 19, 14_714_688, None, 19),
    ("resnet50", 175, 23_587_712, "conv5_block1_1_conv", 143),
    ("densenet121", 427, 7_037_504, "conv5_block1_0_bn", 313),
])
def test_builtin_backbones_at_32(name, layers, params, freeze_layer, index):
    card = zoo.get_backbone(name)
    model = built_at_32(name)
    assert (len(model.layers), model.count_params()) == (layers, params)
    assert card.freeze_layer == freeze_layer
    assert freeze_index(model, card.freeze_layer, name) == index
    assert (card.min_input_size, card.default_input_size) == (32, 224)


def test_densenet_freeze_point_follows_the_last_transition():
    model = built_at_32("densenet121")
    assert model.layers[312].name == "pool4_pool"
