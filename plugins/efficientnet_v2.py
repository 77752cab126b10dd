"""EfficientNetV2 (Tan & Le, 2021) from ``keras.applications``: one config per backbone, measured by
``scripts/catalogue.py`` and checked by tests/backbones/test_catalogue.py (see zoo/backbones/catalogue.py)."""

import zoo
from zoo.backbones.catalogue import register_all

CONFIGS = {
    "efficientnetv2b0": dict(min_input_size=32, freeze_layer="block6a_dwconv2", params=5_919_312,
                             gmacs={32: 0.016, 224: 0.717}),
    "efficientnetv2b1": dict(min_input_size=32, freeze_layer="block6a_dwconv2", params=6_931_124,
                             gmacs={32: 0.022, 224: 1.015, 240: 1.196}),
    "efficientnetv2b2": dict(min_input_size=32, freeze_layer="block6a_dwconv2", params=8_769_374,
                             gmacs={32: 0.025, 224: 1.167, 260: 1.696}),
    "efficientnetv2b3": dict(min_input_size=32, freeze_layer="block6a_dwconv2", params=12_930_622,
                             gmacs={32: 0.035, 224: 1.608, 300: 3.01}),
    "efficientnetv2s": dict(min_input_size=32, freeze_layer="block6a_dwconv2", params=20_331_360,
                            gmacs={32: 0.062, 224: 2.849, 384: 8.364}),
    "efficientnetv2m": dict(min_input_size=32, freeze_layer="block6a_dwconv2", params=53_150_388,
                            gmacs={32: 0.119, 224: 5.361, 480: 24.581}),
    "efficientnetv2l": dict(min_input_size=32, freeze_layer="block6a_dwconv2", params=117_746_848,
                            gmacs={32: 0.271, 224: 12.23, 480: 56.078}),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, pooling="avg", reference="https://arxiv.org/abs/2104.00298")
