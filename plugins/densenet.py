"""DenseNet (Huang et al., 2016) from ``keras.applications``: one config per backbone, measured by
``scripts/catalogue.py`` and checked by tests/backbones/test_catalogue.py (see zoo/backbones/catalogue.py)."""

import zoo
from zoo.backbones.catalogue import register_all

CONFIGS = {
    "densenet121": dict(min_input_size=32, freeze_layer="conv5_block1_0_bn", params=7_037_504,
                        gmacs={32: 0.058, 224: 2.833}),
    "densenet169": dict(min_input_size=32, freeze_layer="conv5_block1_0_bn", params=12_642_880,
                        gmacs={32: 0.069, 224: 3.358}),
    "densenet201": dict(min_input_size=32, freeze_layer="conv5_block1_0_bn", params=18_321_984,
                        gmacs={32: 0.088, 224: 4.289}),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, pooling="avg", reference="https://arxiv.org/abs/1608.06993")
