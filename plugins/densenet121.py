"""DenseNet121 (Huang et al., 2016) from ``keras.applications``."""

import zoo

# keras is imported inside the functions: loading the plugin must not start a backend.


def build(input_shape, weights):
    import keras

    return keras.applications.DenseNet121(include_top=False, weights=weights, input_shape=input_shape)


def preprocess(x):
    import keras

    return keras.applications.densenet.preprocess_input(x)


@zoo.hookimpl
def register_backbones(register):
    register(zoo.Backbone(
        name="densenet121",
        build=build,
        preprocess=preprocess,
        min_input_size=32,
        default_input_size=224,
        # conv5_block1_0_bn (index 313) is the first layer of the last dense block,
        # right after the last transition's pool4_pool. Training that block adapts the
        # most task-specific features, as conv5 does for resnet50, and since every layer
        # of a dense block reads only from inside the block, the frozen part ends in the
        # single tensor pool4_pool, which zoo can cache.
        freeze_layer="conv5_block1_0_bn",
        pooling="avg",
        description="DenseNet121: 4 densely connected blocks, 7.0M parameters without the top.",
        reference="https://arxiv.org/abs/1608.06993",
    ))
