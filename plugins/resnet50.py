"""ResNet50 (He et al., 2015) from ``keras.applications``."""

import zoo

# keras is imported inside the functions: loading the plugin must not start a backend.


def build(input_shape, weights):
    import keras

    return keras.applications.ResNet50(include_top=False, weights=weights, input_shape=input_shape)


def preprocess(x):
    import keras

    return keras.applications.resnet50.preprocess_input(x)


@zoo.hookimpl
def register_backbones(register):
    register(zoo.Backbone(
        name="resnet50",
        build=build,
        preprocess=preprocess,
        min_input_size=32,
        default_input_size=224,
        # conv5 (the last stage, index 143 on) trains; conv1-conv4 stay frozen, so the
        # frozen part ends in one tensor, conv4_block6_out, that zoo can cache.
        freeze_layer="conv5_block1_1_conv",
        pooling="avg",
        description="ResNet50: residual bottleneck blocks in 4 stages, 23.6M parameters without the top.",
        reference="https://arxiv.org/abs/1512.03385",
    ))
