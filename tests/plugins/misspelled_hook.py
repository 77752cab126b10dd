"""A plugin with a misspelled hook (register_backbone): zoo must reject the whole plugin."""

import zoo


@zoo.hookimpl
def register_backbone(register):  # the hook is register_backbones
    raise AssertionError("zoo must never call an unknown hook")


@zoo.hookimpl
def register_heads(register):
    register(zoo.Head("zz-misspelled", lambda num_classes, dropout: [], "must not be registered"))
