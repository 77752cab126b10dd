"""ResNet50 v1.5 through keras-hub (the timm architecture: the stride on the 3x3 convolution, where
Keras's resnet50 has it on the first 1x1): one config (zoo/backbones/hub.py), checked by
tests/backbones/test_hub_catalogue.py. The preset holds timm's resnet50.a1_in1k ("ResNet strikes back")."""

import zoo
from zoo.backbones.hub import register_all
from zoo.core.card import Published

CONFIGS = {
    "resnet50_v1_5": dict(arguments=dict(input_conv_filters=[64], input_conv_kernel_sizes=[7],
                                         stackwise_num_filters=[64, 128, 256, 512], stackwise_num_blocks=[3, 4, 6, 3],
                                         stackwise_num_strides=[1, 2, 2, 2], block_type="bottleneck_block",
                                         use_pre_activation=False),
                          preset="resnet_50_imagenet",
                          freeze_layer=None,  # the rule stops at the padding before the strided 3x3, as for resnet50v2
                          params=23_561_152, gmacs={224: 4.087},
                          published=Published("Wightman et al. 2021 (ResNet strikes back, A1); timm's evaluation at "
                                              "224 px", top1=0.804)),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, cls="ResNetBackbone", default_input_size=224, min_input_size=32, size_multiple=1,
                 output="map", pooling="avg", preprocess="torch", reference="https://arxiv.org/abs/2110.00476")
