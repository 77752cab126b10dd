"""VGG16 (Simonyan & Zisserman, 2014) from ``keras.applications``."""

import zoo

# keras is imported inside the functions: loading the plugin must not start a backend.


def build(input_shape, weights):
    import keras

    return keras.applications.VGG16(include_top=False, weights=weights, input_shape=input_shape)


def preprocess(x):
    import keras

    return keras.applications.vgg16.preprocess_input(x)


@zoo.hookimpl
def register_backbones(register):
    register(zoo.Backbone(
        name="vgg16",
        build=build,
        preprocess=preprocess,
        min_input_size=32,
        default_input_size=224,
        # The classic CIFAR-10 recipe freezes the first 19 layers: at 32x32 without
        # its top, VGG16 has exactly 19, so the whole backbone is frozen.
        freeze_layer=None,
        pooling="flatten",
        description="VGG16: 13 convolutions in 5 blocks, 14.7M parameters without the top.",
        reference="https://arxiv.org/abs/1409.1556",
    ))
