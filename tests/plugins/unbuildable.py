"""A plugin whose backbone cannot be built: `zoo plugins --check` must say so."""

import zoo


def build(input_shape, weights):
    raise RuntimeError("no layers here")


@zoo.hookimpl
def register_backbones(register):
    register(zoo.Backbone(name="zz-unbuildable", build=build, preprocess=lambda x: x, min_input_size=8,
                          default_input_size=32, freeze_layer=None, pooling="avg"))
