"""ResNet v1 (He et al., 2015) from ``keras.applications``: one config per backbone, measured by
``scripts/catalogue.py`` and checked by tests/backbones/test_catalogue.py (see zoo/backbones/catalogue.py)."""

import zoo
from zoo.backbones.catalogue import register_all

CONFIGS = {
    "resnet50": dict(min_input_size=32, freeze_layer="conv5_block1_1_conv", params=23_587_712,
                     gmacs={32: 0.079, 224: 3.856}),
    "resnet101": dict(min_input_size=32, freeze_layer="conv5_block1_1_conv", params=42_658_176,
                      gmacs={32: 0.154, 224: 7.568}),
    "resnet152": dict(min_input_size=32, freeze_layer="conv5_block1_1_conv", params=58_370_944,
                      gmacs={32: 0.23, 224: 11.28}),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, pooling="avg", reference="https://arxiv.org/abs/1512.03385")
