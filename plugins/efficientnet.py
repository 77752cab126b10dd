"""EfficientNet (Tan & Le, 2019) from ``keras.applications``: one config per backbone, measured by
``scripts/catalogue.py`` and checked by tests/backbones/test_catalogue.py (see zoo/backbones/catalogue.py)."""

import zoo
from zoo.backbones.catalogue import register_all

CONFIGS = {
    "efficientnetb0": dict(min_input_size=32, freeze_layer="block6a_dwconv", params=4_049_571,
                           gmacs={32: 0.008, 224: 0.385}),
    "efficientnetb1": dict(min_input_size=32, freeze_layer="block6a_dwconv", params=6_575_239,
                           gmacs={32: 0.013, 224: 0.568, 240: 0.686}),
    "efficientnetb2": dict(min_input_size=32, freeze_layer="block6a_dwconv", params=7_768_569,
                           gmacs={32: 0.015, 224: 0.658, 260: 0.992}),
    "efficientnetb3": dict(min_input_size=32, freeze_layer="block6a_dwconv", params=10_783_535,
                           gmacs={32: 0.021, 224: 0.961, 300: 1.826}),
    "efficientnetb4": dict(min_input_size=32, freeze_layer="block6a_dwconv", params=17_673_823,
                           gmacs={32: 0.034, 224: 1.502, 380: 4.392}),
    "efficientnetb5": dict(min_input_size=32, freeze_layer="block6a_dwconv", params=28_513_527,
                           gmacs={32: 0.053, 224: 2.354, 456: 10.264}),
    "efficientnetb6": dict(min_input_size=32, freeze_layer="block6a_dwconv", params=40_960_143,
                           gmacs={32: 0.076, 224: 3.358, 528: 19.065}),
    "efficientnetb7": dict(min_input_size=32, freeze_layer="block6a_dwconv", params=64_097_687,
                           gmacs={32: 0.117, 224: 5.167, 600: 37.743}),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, pooling="avg", reference="https://arxiv.org/abs/1905.11946")
