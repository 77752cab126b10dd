"""MobileNet (Howard et al., 2017), MobileNetV2 (Sandler et al., 2018) and MobileNetV3 (Howard et
al., 2019) from ``keras.applications``: one config per backbone, measured by
``scripts/catalogue.py`` and checked by tests/backbones/test_catalogue.py (see zoo/backbones/catalogue.py)."""

import zoo
from zoo.backbones.catalogue import register_all

CONFIGS = {
    "mobilenet": dict(min_input_size=32, freeze_layer="conv_dw_12", params=3_228_864,
                      gmacs={32: 0.012, 224: 0.568}, reference="https://arxiv.org/abs/1704.04861"),
    "mobilenetv2": dict(min_input_size=32, freeze_layer="block_13_depthwise", params=2_257_984,
                        gmacs={32: 0.006, 224: 0.299}, reference="https://arxiv.org/abs/1801.04381"),
    "mobilenetv3small": dict(min_input_size=32, freeze_layer="expanded_conv_8_depthwise", params=939_120,
                             gmacs={32: 0.002, 224: 0.055}),
    "mobilenetv3large": dict(min_input_size=32, freeze_layer="expanded_conv_12_depthwise", params=2_996_352,
                             gmacs={32: 0.006, 224: 0.214}),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, pooling="avg", reference="https://arxiv.org/abs/1905.02244")
