"""Throwaway backbones for the trial-grid tests: two tiny real models, one that kills its process
and one that stalls (for Ctrl-C)."""

import os
import signal
import time
from pathlib import Path

import keras

import zoo


def tiny(width):
    def build(input_shape, weights):
        image = keras.Input(input_shape, name="input")
        x = keras.layers.Conv2D(width, 3, strides=2, activation="relu", name="conv1")(image)
        x = keras.layers.Conv2D(width, 3, activation="relu", name="conv2")(x)
        return keras.Model(image, x, name=f"grid_{width}")

    return build


def crash(input_shape, weights):
    os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would: no exception, no cleanup


def stall(input_shape, weights):
    """Says where it runs (its pid, in the file $ZOO_TEST_STALL_FILE), then never finishes; with
    $ZOO_TEST_STALL_STUBBORN it also ignores SIGTERM, so ending it takes zoo's full grace period."""
    if os.environ.get("ZOO_TEST_STALL_STUBBORN"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    Path(os.environ["ZOO_TEST_STALL_FILE"]).write_text(str(os.getpid()))
    time.sleep(3600)


@zoo.hookimpl
def register_backbones(register):
    for name, build in (("grid-a", tiny(4)), ("grid-b", tiny(8)), ("grid-crash", crash), ("grid-stall", stall)):
        register(zoo.Backbone(name=name, build=build, preprocess=lambda x: x / 255.0, min_input_size=8,
                              default_input_size=32, freeze_layer="conv2", pooling="avg"))
