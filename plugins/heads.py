"""zoo's built-in classifier heads: what ``--head dense|bn|linear`` puts after the pooling.

Registered through ``register_heads`` like a third-party head. Each build returns
fresh layers, the last one the softmax classifier named ``predictions``.
"""

import zoo

# keras is imported inside the builds: loading the plugin must not start a backend.


def dense(num_classes, dropout):
    """The classic recipe's head: Dense(256, relu), Dropout, classifier."""
    import keras

    return [
        keras.layers.Dense(256, activation="relu", name="head_dense"),
        keras.layers.Dropout(dropout, name="head_dropout"),
        keras.layers.Dense(num_classes, activation="softmax", name="predictions"),
    ]


def batchnorm(num_classes, dropout):
    """Two Dense(128) blocks, each followed by BatchNormalization, with Dropout between."""
    import keras

    layers = [keras.layers.Dropout(dropout, name="head_dropout_0")]
    for i in (1, 2):
        layers += [
            keras.layers.Dense(128, activation="relu", name=f"head_dense_{i}"),
            keras.layers.BatchNormalization(name=f"head_bn_{i}"),
            keras.layers.Dropout(dropout, name=f"head_dropout_{i}"),
        ]
    return layers + [keras.layers.Dense(num_classes, activation="softmax", name="predictions")]


def linear(num_classes, dropout):
    """The classifier alone on the pooled features (a linear probe)."""
    import keras

    return [keras.layers.Dense(num_classes, activation="softmax", name="predictions")]


@zoo.hookimpl
def register_heads(register):
    register(zoo.Head("dense", dense, "Dense(256, relu), Dropout, Dense(classes): the classic recipe"))
    register(zoo.Head("bn", batchnorm, "Dropout, 2 x [Dense(128, relu), BatchNorm, Dropout], Dense(classes)"))
    register(zoo.Head("linear", linear, "Dense(classes) on the pooled features: a linear probe"))
