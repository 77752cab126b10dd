"""Inception v3 (Szegedy et al., 2015) and Inception-ResNet v2 (Szegedy et al., 2016) from
``keras.applications``: one config per backbone, measured by ``scripts/catalogue.py`` and
checked by tests/backbones/test_catalogue.py (see zoo/backbones/catalogue.py)."""

import zoo
from zoo.backbones.catalogue import register_all

CONFIGS = {
    "inceptionv3": dict(min_input_size=75, freeze_layer="conv2d_72", params=21_802_784,
                        gmacs={75: 0.201, 224: 2.836, 299: 5.711}),
    "inceptionresnetv2": dict(min_input_size=75, freeze_layer="conv2d_160", params=54_336_736,
                              gmacs={75: 0.433, 224: 6.467, 299: 13.154}, reference="https://arxiv.org/abs/1602.07261"),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, pooling="avg", reference="https://arxiv.org/abs/1512.00567")
