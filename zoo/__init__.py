"""zoo: compare pretrained Keras backbones for transfer learning, with plugins.

The plugin API: ``zoo.hookimpl``, ``zoo.Backbone`` and the hooks in ``zoo.hookspecs``.
"""

from . import backend as _backend  # noqa: F401  (quiets TensorFlow's start-up logs before keras loads)
from .card import Backbone
from .errors import BadInput, ZooError
from .hookspecs import hookimpl
from .model import Preprocess  # registers the layer, so `import zoo` is enough to load a saved model
from .plugins import load_plugins, pm
from .registry import get_backbone, list_backbones

__all__ = ["Backbone", "BadInput", "ZooError", "get_backbone", "hookimpl", "list_backbones",
           "load_plugins", "pm", "Preprocess"]
