"""A zoo plugin registering MobileNetV2 (Sandler et al., 2018) from keras.applications."""

import keras

import zoo


def build(input_shape, weights):
    # alpha=1.0 is the width that Keras has ImageNet weights for at every input size.
    return keras.applications.MobileNetV2(include_top=False, weights=weights, input_shape=input_shape)


@zoo.hookimpl
def register_backbones(register):
    register(zoo.Backbone(
        name="mobilenetv2",
        build=build,
        preprocess=keras.applications.mobilenet_v2.preprocess_input,
        min_input_size=32,
        default_input_size=224,
        # The last inverted-residual block (block_16) and the final 1x1 conv train.
        freeze_layer="block_16_expand",
        pooling="avg",
        description="MobileNetV2: inverted residuals and linear bottlenecks, 2.3M parameters without the top.",
        reference="https://arxiv.org/abs/1801.04381",
    ))
