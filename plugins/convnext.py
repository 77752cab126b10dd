"""ConvNeXt (Liu et al., 2022) from ``keras.applications``: one config per backbone, measured by
``scripts/catalogue.py`` and checked by tests/backbones/test_catalogue.py (see zoo/backbones/catalogue.py)."""

import zoo
from zoo.backbones.catalogue import register_all

CONFIGS = {
    "convnexttiny": dict(min_input_size=32, freeze_layer="convnext_tiny_downsampling_block_2", params=27_820_128,
                         gmacs={32: 0.091, 224: 4.455}),
    "convnextsmall": dict(min_input_size=32, freeze_layer="convnext_small_downsampling_block_2", params=49_454_688,
                          gmacs={32: 0.177, 224: 8.683}),
    "convnextbase": dict(min_input_size=32, freeze_layer="convnext_base_downsampling_block_2", params=87_566_464,
                         gmacs={32: 0.313, 224: 15.354}),
    "convnextlarge": dict(min_input_size=32, freeze_layer="convnext_large_downsampling_block_2", params=196_230_336,
                          gmacs={32: 0.701, 224: 34.36}),
    "convnextxlarge": dict(min_input_size=32, freeze_layer="convnext_xlarge_downsampling_block_2", params=348_147_968,
                           gmacs={32: 1.243, 224: 60.919}),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, pooling="avg", reference="https://arxiv.org/abs/2201.03545")
