"""zoo: compare pretrained Keras backbones for transfer learning, with plugins.

The Python API: ``zoo.compare(...)``, ``zoo.rank(...)`` and ``zoo.bench(...)`` return pandas
DataFrames (zoo.api); ``zoo.scores.logme(features, labels)`` scores features.
The plugin API: ``zoo.hookimpl``, the cards ``zoo.Backbone``, ``zoo.Dataset`` and ``zoo.Head``,
and the hooks in ``zoo.hookspecs``.

Importing zoo imports no Keras backend: commands that build no model start fast.
"""

import importlib

import wrapt

from . import backend as _backend
from .api import bench, compare, rank
from .card import Backbone, Dataset, Head
from .datasets import ImageData, load_dataset
from .errors import BadInput, ZooError
from .hookspecs import hookimpl
from .plugins import load_plugins, pm
from .registry import get_backbone, get_dataset, get_head, list_backbones, list_datasets, list_heads

__all__ = ["Backbone", "BadInput", "Dataset", "Head", "ImageData", "ZooError", "bench", "compare", "get_backbone",
           "get_dataset", "get_head", "hookimpl", "list_backbones", "list_datasets", "list_heads",
           "load_dataset", "load_plugins", "pm", "Preprocess", "rank"]

# Whoever imports keras first (zoo or a plugin), TensorFlow's start-up lines stay off stderr.
_backend.quiet_keras_import()


def _register_layers(keras_module) -> None:
    # zoo.model and zoo.blocks define (and register) zoo's Keras layers, so `import zoo` is enough
    # to load a saved model, whether keras is imported before zoo or after. import_module, not
    # `from .model import ...`: zoo.model may itself be what is importing keras, half initialised.
    importlib.import_module(".model", __name__)
    importlib.import_module(".blocks", __name__)


wrapt.register_post_import_hook(_register_layers, "keras")


def __getattr__(name):
    if name == "Preprocess":  # imports keras, so only on demand
        from .model import Preprocess

        return Preprocess
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
