"""zoo: compare pretrained Keras backbones for transfer learning, with plugins.

The plugin API: ``zoo.hookimpl``, the cards ``zoo.Backbone``, ``zoo.Dataset`` and ``zoo.Head``,
and the hooks in ``zoo.hookspecs``.
"""

from . import backend as _backend  # noqa: F401  (quiets TensorFlow's start-up logs before keras loads)
from .card import Backbone, Dataset, Head
from .datasets import ImageData, load_dataset
from .errors import BadInput, ZooError
from .hookspecs import hookimpl
from .model import Preprocess  # registers the layer, so `import zoo` is enough to load a saved model
from .plugins import load_plugins, pm
from .registry import get_backbone, get_dataset, get_head, list_backbones, list_datasets, list_heads

__all__ = ["Backbone", "BadInput", "Dataset", "Head", "ImageData", "ZooError", "get_backbone",
           "get_dataset", "get_head", "hookimpl", "list_backbones", "list_datasets", "list_heads",
           "load_dataset", "load_plugins", "pm", "Preprocess"]
