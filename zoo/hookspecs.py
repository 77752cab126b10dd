"""The hooks a zoo plugin can implement.

A plugin is a module (or object) with functions marked ``@zoo.hookimpl`` whose
names match the specs below. Plugins are found through the ``zoo`` entry-point
group, the ``--plugin`` option and the ``ZOO_PLUGINS`` environment variable.
"""

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("zoo")
hookimpl = HookimplMarker("zoo")


@hookspec
def register_backbones(register):
    """Register backbones by calling ``register(zoo.Backbone(...))`` once per backbone.

    ``register`` validates the card; an invalid card or a name that another
    plugin already registered is skipped with a warning naming the plugin.
    """


@hookspec
def register_datasets(register):
    """Register datasets by calling ``register(zoo.Dataset(...))`` once per dataset.

    The card says how to read the dataset from local files (``--data-dir``) and
    from its usual download; ``--dataset NAME`` then picks it. Invalid cards and
    taken names are skipped with a warning, as for backbones.
    """


@hookspec
def register_heads(register):
    """Register classifier heads by calling ``register(zoo.Head(...))`` once per head.

    A head is what ``--head NAME`` puts after the backbone's pooling: its
    ``build(num_classes, dropout)`` returns the layers, the last one the classifier.
    """
