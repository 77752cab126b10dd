"""ResNet v2, pre-activation (He et al., 2016) from ``keras.applications``: one config per backbone, measured by
``scripts/catalogue.py`` and checked by tests/backbones/test_catalogue.py (see zoo/backbones/catalogue.py)."""

import zoo
from zoo.backbones.catalogue import register_all

# ResNet v2 downsamples in the last block of each stage, so the last stage starts inside conv4's last block.
CONFIGS = {
    "resnet50v2": dict(min_input_size=32, freeze_layer=None, params=23_564_800,
                       gmacs={32: 0.071, 224: 3.48}),
    "resnet101v2": dict(min_input_size=32, freeze_layer=None, params=42_626_560,
                        gmacs={32: 0.147, 224: 7.192}),
    "resnet152v2": dict(min_input_size=32, freeze_layer=None, params=58_331_648,
                        gmacs={32: 0.223, 224: 10.905}),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, pooling="avg", reference="https://arxiv.org/abs/1603.05027")
