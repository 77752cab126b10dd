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
