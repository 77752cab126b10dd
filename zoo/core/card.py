"""The cards plugins register: what zoo knows about a backbone, a dataset or a head before using it.

Like timm's model cards, they are declarative: names, sizes and the callables that build or load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Tuple, Union

from .recipe import NAMES

# What a backbone outputs, and the poolings that turn it into one vector per image: a feature
# map (B, H, W, C); tokens (B, prefix + patches, D), the prefix being the CLS token and any
# distillation or register tokens ("cls" takes the first, "mean" averages the patch tokens
# alone); or a vector (B, D) its own head already pooled ("none", SigLIP's attention pooling).
POOLINGS_FOR = {"map": ("flatten", "avg", "max"), "tokens": ("cls", "mean"), "vector": ("none",)}
POOLINGS = tuple(p for poolings in POOLINGS_FOR.values() for p in poolings)
# Preprocessing modes, as data: a saved model then needs no registry to load. Keras's
# preprocess_input modes: "caffe": RGB to BGR, ImageNet mean subtracted; "tf": scaled to -1..1
# (the 0.5/0.5 of ViT and SigLIP); "torch": 0..1, then the ImageNet mean and std. "clip": 0..1,
# then CLIP's own mean and std. "none": the model rescales inside (EfficientNet, ConvNeXt).
PREPROCESS_MODES = ("caffe", "tf", "torch", "clip", "none")
# Optional packages a card may need, by the extra that installs them (pip install "zoo[hub]").
EXTRAS = {"hub": ("keras_hub", "safetensors")}


@dataclass(frozen=True)
class Published:
    """A backbone's published ImageNet figures, with their source (timm's model cards keep the same)."""

    source: str
    top1: Optional[float] = None  # ImageNet top-1 accuracy, a fraction
    top5: Optional[float] = None
    top1_protocol: str = "fine-tuned"  # or "linear probe": frozen features (self-supervised encoders)
    params_with_top: Optional[int] = None
    size_mb: Optional[float] = None  # of the weights file with the top
    depth: Optional[int] = None
    cpu_ms: Optional[float] = None  # per inference step, on the source's CPU
    gpu_ms: Optional[float] = None  # per inference step, on the source's GPU


_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Backbone:
    """A backbone's card. Plugins register one per backbone through ``register_backbones``.

    ``build(input_shape, weights)`` returns the backbone without its classifier top;
    ``weights`` is ``"imagenet"``, ``None`` or a path to a weights file.
    ``freeze_layer`` names the first layer that stays trainable under the
    recommended freeze (every layer before it is frozen); ``None`` freezes it all.
    ``preprocess`` is one of Keras's modes (``PREPROCESS_MODES``) or a callable.
    ``params`` (without the top) and ``gmacs`` (multiply-accumulates of one image through
    the backbone, by input size, zoo.backbones.cost) are what it costs; ``published`` its published
    ImageNet figures. They are optional: a third-party card without them lists with blanks.

    Transformers add: ``output`` ("map", "tokens" or "vector": which poolings fit, POOLINGS_FOR),
    ``prefix_tokens`` (CLS, distillation and register tokens before the patches),
    ``size_multiple`` (the input size must be one: the patch or window grid), ``weights_size``
    (pretrained weights load at this size alone: learned position embeddings for one patch grid),
    ``weights_folder`` (``--weights`` is a preset folder, not a file), ``requires`` (the zoo
    extra that installs what ``build`` imports, EXTRAS) and ``imagenet`` (False: no pretrained
    weights to download, an architecture alone).
    """

    name: str
    build: Callable[[Tuple[int, int, int], Optional[str]], object]
    preprocess: Union[str, Callable]
    min_input_size: int
    default_input_size: int
    freeze_layer: Optional[str]
    pooling: str
    description: str = ""
    reference: str = ""
    params: Optional[int] = None
    gmacs: Optional[dict] = None  # {input size: GMACs}, the default input size among them
    published: Optional[Published] = None
    output: str = "map"
    prefix_tokens: int = 0
    size_multiple: int = 1
    weights_size: Optional[int] = None
    weights_folder: bool = False
    requires: str = ""
    imagenet: bool = True  # pretrained weights exist for --weights imagenet

    @property
    def preprocess_mode(self) -> str:
        """The Keras mode, or "custom" for a callable."""
        return self.preprocess if isinstance(self.preprocess, str) else "custom"

    @property
    def default_gmacs(self) -> Optional[float]:
        return (self.gmacs or {}).get(self.default_input_size)

    def problems(self) -> list[str]:
        """What is wrong with this card, as short phrases (empty when it is valid)."""
        found = []
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            found.append(f"name {self.name!r} must be lower case letters, digits, '_', '-' or '.'")
        for field in ("min_input_size", "default_input_size"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                found.append(f"{field} must be an integer >= 1, not {value!r}")
        if not found and self.default_input_size < self.min_input_size:
            found.append("default_input_size must not be below min_input_size")
        if self.output not in POOLINGS_FOR:
            found.append(f"output must be one of {', '.join(POOLINGS_FOR)}, not {self.output!r}")
        elif self.pooling not in poolings_for(self):
            found.append(f"pooling must be one of {', '.join(poolings_for(self))} for {self.output} output, "
                         f"not {self.pooling!r}")
        if self.requires and self.requires not in EXTRAS:
            found.append(f"requires must be one of {', '.join(EXTRAS)}, not {self.requires!r}")
        if not isinstance(self.size_multiple, int) or isinstance(self.size_multiple, bool) or self.size_multiple < 1:
            found.append(f"size_multiple must be an integer >= 1, not {self.size_multiple!r}")
        else:
            for size in ("min_input_size", "default_input_size", "weights_size"):
                value = getattr(self, size)
                if isinstance(value, int) and value % self.size_multiple:
                    found.append(f"{size} {value} must be a multiple of size_multiple {self.size_multiple}")
        if not isinstance(self.prefix_tokens, int) or isinstance(self.prefix_tokens, bool) or self.prefix_tokens < 0:
            found.append(f"prefix_tokens must be an integer >= 0, not {self.prefix_tokens!r}")
        if self.freeze_layer is not None and not isinstance(self.freeze_layer, str):
            found.append(f"freeze_layer must be a layer name or None, not {self.freeze_layer!r}")
        if not callable(self.build):
            found.append("build must be callable")
        if not (callable(self.preprocess) or self.preprocess in PREPROCESS_MODES):
            found.append(f"preprocess must be callable or one of {', '.join(PREPROCESS_MODES)}, "
                         f"not {self.preprocess!r}")
        if self.gmacs is not None and not isinstance(self.gmacs, dict):
            found.append(f"gmacs must map input sizes to GMACs, not {self.gmacs!r}")
        return found


def poolings_for(card) -> tuple:
    """The poolings that fit ``card``'s output: "cls" only where there is a CLS token."""
    poolings = POOLINGS_FOR.get(card.output, ())
    return tuple(p for p in poolings if p != "cls" or card.prefix_tokens > 0)


@dataclass(frozen=True)
class Dataset:
    """A dataset's card. Plugins register one per dataset through ``register_datasets``.

    ``load_local(folder, variant)`` reads the splits from files in the dataset's
    published format (what ``--data-dir`` points at); ``download(variant)`` gets
    them from the dataset's usual source (Keras's download and cache). Either may be
    ``None`` when the dataset has no such path. Both return an ``"ImageData"`` (arrays, held in
    memory) or a ``zoo.ImageFiles`` (files, streamed: the one for images on disk).
    A ``generated`` dataset's ``download`` makes its images up instead of fetching them.

    ``variants`` are the accepted values of ``--dataset name:VARIANT`` (the first is
    the default). With ``path_argument`` the argument is instead the folder to read
    (``folder:PATH``) and ``load_local`` gets it. With ``argument`` (its form, as help shows
    it: ``NAME[:TRAIN[:TEST]]``) any argument is taken, required, and handed to
    ``load_local`` or ``download`` as the variant (``tfds:NAME``).
    """

    name: str
    num_classes: Optional[int]  # None: found in the files
    class_names: Optional[Tuple[str, ...]]
    image_shape: Optional[Tuple[int, int, int]]  # native (height, width, channels); None: varies
    load_local: Optional[Callable[[Path, Optional[str]], "ImageData"]]
    download: Optional[Callable[[Optional[str]], "ImageData"]]
    variants: Tuple[str, ...] = ()
    path_argument: bool = False
    argument: str = ""  # a free argument's form (tfds:NAME[:TRAIN[:TEST]]); "": none or variants
    generated: bool = False  # download() generates the images: nothing is fetched
    local_files: str = ""  # what --data-dir must hold, for help and errors
    description: str = ""
    reference: str = ""
    # Training settings this dataset recommends, used where the command line leaves an
    # option at its default, e.g. {"optimizer": "adam", "lr": 1e-3}; keys from zoo.core.recipe.NAMES.
    recipe: dict = field(default_factory=dict)

    def problems(self) -> list[str]:
        """What is wrong with this card, as short phrases (empty when it is valid)."""
        found = []
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            found.append(f"name {self.name!r} must be lower case letters, digits, '_', '-' or '.'")
        if self.load_local is None and self.download is None:
            found.append("give load_local, download or both")
        for part in ("load_local", "download"):
            value = getattr(self, part)
            if value is not None and not callable(value):
                found.append(f"{part} must be callable or None")
        if self.num_classes is not None and (not isinstance(self.num_classes, int) or self.num_classes < 2):
            found.append(f"num_classes must be an integer >= 2 or None, not {self.num_classes!r}")
        if self.image_shape is not None and (len(self.image_shape) != 3 or self.image_shape[2] not in (1, 3)):
            found.append(f"image_shape must be (height, width, 1 or 3), not {self.image_shape!r}")
        unknown = set(self.recipe) - set(NAMES)
        if unknown:
            found.append(f"recipe keys {', '.join(sorted(unknown))} are not among {', '.join(NAMES)}")
        if sum(map(bool, (self.path_argument, self.variants, self.argument))) > 1:
            found.append("a dataset takes a path argument, variants or a free argument, not more than one")
        return found


@dataclass(frozen=True)
class Head:
    """A classifier head's card. Plugins register one per head through ``register_heads``.

    ``build(num_classes, dropout)`` returns the layers that follow the backbone's
    pooling, the last one the softmax classifier. ``dropout`` is ``--dropout``.
    """

    name: str
    build: Callable[[int, float], list]
    description: str = ""

    def problems(self) -> list[str]:
        found = []
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            found.append(f"name {self.name!r} must be lower case letters, digits, '_', '-' or '.'")
        if not callable(self.build):
            found.append("build must be callable")
        return found
