"""A zoo plugin registering MobileNetV2 at half width (Sandler et al., 2018) from keras.applications.

zoo has the full-width MobileNetV2 built in (``mobilenetv2``); this example adds the 0.5-width
variant, which Keras also has ImageNet weights for, under its own name.
"""

import zoo

# keras is imported inside the functions: zoo loads every plugin for every command, and a
# module-level import would start a backend even for `zoo --help`.


def build(input_shape, weights):
    import keras

    return keras.applications.MobileNetV2(include_top=False, weights=weights, input_shape=input_shape, alpha=0.5)


def preprocess(x):
    import keras

    return keras.applications.mobilenet_v2.preprocess_input(x)


@zoo.hookimpl
def register_backbones(register):
    register(zoo.Backbone(
        name="mobilenetv2-050",
        build=build,
        preprocess=preprocess,  # a callable: cards may give their own instead of a Keras mode
        min_input_size=32,
        default_input_size=224,
        # The last inverted-residual block (block_16) and the final 1x1 conv train.
        freeze_layer="block_16_expand",
        pooling="avg",
        description="MobileNetV2 at 0.5 width: inverted residuals and linear bottlenecks, 0.7M parameters "
                    "without the top.",
        reference="https://arxiv.org/abs/1801.04381",
    ))
