"""A throwaway plugin with a tiny real Keras backbone, so CLI tests train in seconds."""

import keras

import zoo


def build(input_shape, weights):
    image = keras.Input(input_shape, name="input")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(image)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv3")(x)
    model = keras.Model(image, x, name="tiny")
    if weights == "imagenet":
        raise ValueError("tiny has no ImageNet weights; use --weights none or a weights file")
    if weights is not None:
        model.load_weights(weights)
    return model


def preprocess(x):
    return x / 127.5 - 1.0


@zoo.hookimpl
def register_backbones(register):
    register(zoo.Backbone(name="tiny", build=build, preprocess=preprocess, min_input_size=8,
                          default_input_size=32, freeze_layer="conv3", pooling="avg",
                          description="a tiny test backbone"))
