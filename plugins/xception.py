"""Xception (Chollet, 2016) from ``keras.applications``: one config per backbone, measured by
``scripts/catalogue.py`` and checked by tests/backbones/test_catalogue.py (see zoo/backbones/catalogue.py)."""

import zoo
from zoo.backbones.catalogue import register_all

CONFIGS = {
    "xception": dict(min_input_size=71, freeze_layer="block13_sepconv1_act", params=20_861_480,
                     gmacs={71: 0.551, 224: 4.551, 299: 8.355}),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, pooling="avg", reference="https://arxiv.org/abs/1610.02357")
