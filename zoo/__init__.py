"""zoo: compare pretrained Keras backbones for transfer learning, with plugins.

The Python API: ``zoo.compare(...)``, ``zoo.rank(...)`` and ``zoo.bench(...)`` return pandas
DataFrames (zoo.api); ``zoo.scores.logme(features, labels)`` scores features.
The plugin API: ``zoo.hookimpl``, the cards ``zoo.Backbone``, ``zoo.Dataset`` and ``zoo.Head``, what a
dataset loader returns (``zoo.ImageData`` held in memory, ``zoo.ImageFiles`` streamed from files),
and the hooks in ``zoo.hookspecs``.

Importing zoo imports no Keras backend: commands that build no model start fast.
"""

import importlib
import sys

import wrapt

from . import backend as _backend
from . import scores
from .api import bench, compare, rank
from .core.card import Backbone, Dataset, Head
from .core.registry import get_backbone, get_dataset, get_head, list_backbones, list_datasets, list_heads
from .data.datasets import ImageData, load_dataset
from .data.sources import ImageFiles
from .errors import BadInput, ZooError
from .hookspecs import hookimpl
from .plugins import load_plugins, pm

__all__ = ["Backbone", "BadInput", "Dataset", "Head", "ImageData", "ImageFiles", "ZooError", "bench", "compare",
           "get_backbone", "get_dataset", "get_head", "hookimpl", "list_backbones", "list_datasets", "list_heads",
           "load_dataset", "load_plugins", "pm", "Preprocess", "rank", "scores"]

# Plugins written before zoo had packages (#30) import from its flat modules (`from zoo.backbones.catalogue
# import register_all`, `from zoo.data.sources import ImageFiles`): those names stay, as the same module
# objects. The built-in plugins import all of them anyway, so this costs no start-up time.
_FLAT_NAMES = {"card": "core.card", "catalogue": "backbones.catalogue", "checks": "backbones.checks",
               "datasets": "data.datasets", "decode": "data.decode", "hub": "backbones.hub",
               "records": "data.records", "sources": "data.sources"}
for _flat, _home in _FLAT_NAMES.items():
    sys.modules[f"{__name__}.{_flat}"] = globals()[_flat] = importlib.import_module(f".{_home}", __name__)

# Whoever imports keras first (zoo or a plugin), TensorFlow's start-up lines stay off stderr.
_backend.quiet_keras_import()


def _register_layers(keras_module) -> None:
    # zoo.backbones.model and .blocks define (and register) zoo's Keras layers, so `import zoo` is
    # enough to load a saved model, whether keras is imported before zoo or after. import_module, not
    # `from .backbones.model import ...`: it may itself be what is importing keras, half initialised.
    importlib.import_module(".backbones.model", __name__)
    importlib.import_module(".backbones.blocks", __name__)


wrapt.register_post_import_hook(_register_layers, "keras")


def __getattr__(name):
    if name == "Preprocess":  # imports keras, so only on demand
        from .backbones.model import Preprocess

        return Preprocess
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
