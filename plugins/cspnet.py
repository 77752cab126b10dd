"""CSPDarkNet53 (Wang et al., 2020) through keras-hub, with timm's arguments: one config
(zoo/backbones/hub.py), checked by tests/backbones/test_hub_catalogue.py. The preset holds timm's cspdarknet53.ra_in1k,
trained at 256 px."""

import zoo
from zoo.backbones.hub import register_all
from zoo.core.card import Published

CONFIGS = {
    "cspdarknet53": dict(arguments=dict(stem_filters=32, stem_kernel_size=3, stem_strides=1,
                                        stackwise_depth=[1, 2, 8, 8, 4], stackwise_num_filters=[64, 128, 256, 512, 1024],
                                        bottle_ratio=(0.5, 1.0), block_ratio=(1.0, 0.5), expand_ratio=(2.0, 1.0),
                                        stem_padding="same", stem_pooling=None, stage_type="csp", groups=1,
                                        block_type="dark_block", down_growth=True, stackwise_strides=[2, 2, 2, 2, 2],
                                        avg_down=False, cross_linear=False),
                         preset="csp_darknet_53_ra_imagenet", freeze_layer="stage_4_csp_conv_down_1", params=26_652_512,
                         gmacs={224: 5.002, 256: 6.533},
                         published=Published("timm's evaluation of cspdarknet53.ra_in1k at 256 px", top1=0.801)),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, cls="CSPNetBackbone", default_input_size=256, min_input_size=32, size_multiple=1,
                 output="map", pooling="avg", preprocess="torch", reference="https://arxiv.org/abs/1911.11929")
