"""Assembling a backbone and its head into the model zoo trains, under one protocol.

The assembled model is ``image -> [resize] -> [grey to RGB] -> [preprocess] -> backbone
-> pooling -> head``: data is adapted to the backbone inside the model, so a saved
model takes the dataset's own images (28x28 grey MNIST for VGG16, say).
When the frozen part of it ends in a single tensor (the cut), zoo also splits it
into ``frozen`` (image -> cut) and ``trainable`` (cut -> prediction), which share
their layers with the full model, so features can be computed once and cached.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import keras

from ..core.registry import get_backbone, get_head
from ..errors import BadInput
# The module, not its function: zoo's Keras hook (zoo/__init__.py) imports this module while
# zoo.backbones.blocks may be half initialised, when blocks' own `import keras` fired the hook.
from . import blocks
from .checks import check_extra, check_input_size, check_pooling, check_weights_file, keras_home, valid_weights
from .layers import apply_freeze, find_cut, resolve_freeze

# Random backbone weights come from this seed, whatever the trial's (see assemble). 0: a trial
# with the default seed builds the same random backbone as before zoo fixed it.
BACKBONE_SEED = 0

# CLIP's image mean and std (Radford et al. 2021; open_clip's OPENAI_DATASET_MEAN/STD), for "clip".
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@keras.saving.register_keras_serializable(package="zoo")
class TokenPool(keras.layers.Layer):
    """Tokens (batch, prefix + patches, dim) to one vector (batch, dim): ``cls`` takes the first
    token, ``mean`` averages the patch tokens alone (the ``prefix`` CLS, distillation and
    register tokens left out, as DINOv2 and timm's global_pool="avg" do)."""

    def __init__(self, mode: str = "cls", prefix: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.mode, self.prefix = mode, prefix

    def call(self, tokens):
        if self.mode == "cls":
            return tokens[:, 0]
        return keras.ops.mean(tokens[:, self.prefix:], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "prefix": self.prefix}


def pooling_layer(pooling: str, prefix_tokens: int = 0):
    """The layer that pools the backbone's output into one vector per image (zoo.core.card.POOLINGS_FOR)."""
    name = f"{pooling}_pool"
    if pooling in ("cls", "mean"):
        return TokenPool(pooling, prefix_tokens, name=name)
    if pooling == "none":  # already one vector: the backbone's own head pooled it
        return keras.layers.Identity(name=name)
    return {"flatten": keras.layers.Flatten, "avg": keras.layers.GlobalAveragePooling2D,
            "max": keras.layers.GlobalMaxPooling2D}[pooling](name=name)


def build_backbone(card, size: int, weights: str | None):
    """``card.build`` at ``size`` x ``size`` x 3, with a clear message when weights are missing or wrong;
    a keras-hub transformer rebuilt with a layer per block (zoo.backbones.blocks.flatten_blocks)."""
    check_extra(card)
    weights = check_weights_file(weights, card)
    from_file = weights not in (None, "imagenet")
    try:
        # Keras warns once per layer it cannot match (hundreds of lines): held back until it loads.
        with warnings.catch_warnings(record=from_file) as caught:
            model = card.build((size, size, 3), weights)
    except BadInput:
        raise
    except Exception as exc:
        fetch = re.search(r"URL fetch failure on (\S+?):? ", str(exc))
        if weights == "imagenet" and fetch:
            file = fetch.group(1).rsplit("/", 1)[-1]
            raise BadInput(f"ImageNet weights for {card.name} could not be downloaded ({file}): put "
                           f"{file} in {keras_home() / 'models'}/, or pass --weights PATH or "
                           "--weights none.") from exc
        if from_file:  # the one line below says it all, without the warnings
            reason = re.split(r"(?<=\.)\s", str(exc).strip())[0] or "unreadable"  # Keras's first sentence
            what = "folder" if card.weights_folder else "file"
            raise BadInput(f"weights {what} {weights} could not be loaded into {card.name} ({type(exc).__name__}: "
                           f"{reason}): give {valid_weights(card.name, card.weights_folder)}.") from None
        raise
    for warning in {str(w.message): w.message for w in caught or ()}.values():  # loaded: say each once
        warnings.warn(warning, stacklevel=2)
    flat = blocks.flatten_blocks(model)  # keras-hub's transformers: a layer per block, to freeze and cache by
    flat.zoo_image_converter = getattr(model, "zoo_image_converter", None)  # a preset's own (zoo.backbones.hub)
    return flat


@keras.saving.register_keras_serializable(package="zoo")
class Preprocess(keras.layers.Layer):
    """A backbone's preprocessing as a layer, so it lives in the model: one of zoo's modes
    (``mode``, zoo.core.card.PREPROCESS_MODES), or ``scale`` and ``offset`` (per channel, ``x * scale +
    offset``: a keras-hub preset's ImageConverter settings); the saved model then loads with
    ``import zoo`` alone. Or a registered card's own callable (``backbone``: loading then needs
    the plugin that registered it)."""

    def __init__(self, backbone: str | None = None, mode: str | None = None, scale=None, offset=None, **kwargs):
        super().__init__(**kwargs)
        if mode is None and scale is None:  # a card's own callable, or a model saved before cards gave modes
            given = get_backbone(backbone).preprocess
            mode = given if isinstance(given, str) else None
            self._preprocess = given
        if mode == "clip":
            scale = [1 / (255 * s) for s in CLIP_STD]
            offset = [-m / s for m, s in zip(CLIP_MEAN, CLIP_STD)]
        self.backbone, self.mode, self.scale, self.offset = backbone, mode, scale, offset
        if scale is not None:
            self._preprocess = lambda x: x * keras.ops.convert_to_tensor(scale, x.dtype) + \
                keras.ops.convert_to_tensor(offset, x.dtype)
        elif mode is not None:
            self._preprocess = lambda x: keras.applications.imagenet_utils.preprocess_input(x, mode=mode)

    def call(self, inputs):
        return self._preprocess(inputs)

    def get_config(self):
        config = {**super().get_config(), "backbone": self.backbone, "mode": self.mode}
        if self.scale is not None and self.mode is None:
            config.update(scale=list(self.scale), offset=list(self.offset))
        return config


@keras.saving.register_keras_serializable(package="zoo")
class GreyToRGB(keras.layers.Layer):
    """Repeats a single grey channel three times: the backbones take RGB."""

    def call(self, inputs):
        return keras.ops.repeat(inputs, 3, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)


def head_layers(pooling: str, num_classes: int, head: str = "dense", dropout: float = 0.5,
                prefix_tokens: int = 0) -> list:
    """The pooling layer, then the registered head's layers (``--head``, ``--dropout``)."""
    layers = get_head(head).build(num_classes, dropout)
    if not layers or getattr(layers[-1], "name", None) != "predictions":
        raise BadInput(f"head {head!r} must end in a layer named 'predictions' (its classifier).")
    return [pooling_layer(pooling, prefix_tokens), *layers]


def _apply(layers, x):
    for layer in layers:
        x = layer(x)
    return x


@dataclass
class Assembled:
    card: object
    input_size: int
    freeze_index: int
    backbone: keras.Model
    model: keras.Model  # image -> prediction: what is saved and timed
    frozen: keras.Model | None  # image -> cut tensor
    trainable: keras.Model | None  # cut tensor -> prediction
    cut: str  # the cut layer's name, or why there is no cut
    front: list  # the layers that adapt the data to the backbone (resize, grey to RGB, preprocessing)
    head: list  # pooling, then the head's layers
    _trainer: keras.Model | None = field(default=None, repr=False)

    @property
    def trainer(self) -> keras.Model:
        """image -> prediction: what trains without the cache (``training_graph`` at the freeze
        index), built when first asked for (a cached trial never needs it)."""
        if self._trainer is None:
            self._trainer = training_graph(self, self.freeze_index)
        return self._trainer


class _InferenceMode(keras.layers.Layer):
    """Calls ``part`` in inference mode whatever mode the model around it runs in. Hand-written
    because Keras 3 cannot say it in a functional graph: it hands the outer call's ``training``
    to every layer of a functional model, over a ``training=False`` given when the graph was built
    (keras/src/models/functional.py, ``operation_fn``). Only in training graphs, never saved."""

    def __init__(self, part, **kwargs):
        super().__init__(**kwargs)
        self.part = part

    def call(self, inputs):
        return self.part(inputs, training=False)

    def compute_output_shape(self, input_shape):
        return self.part.compute_output_shape(input_shape)


def training_graph(assembled: Assembled, index: int) -> keras.Model:
    """The model to train where the trained part sees images (without the cache, and in stage
    two): ``assembled.model``'s own layers and weights, with the frozen layers ``[:index]`` called
    in inference mode (``training=False``), as Keras's transfer-learning guide calls its frozen
    base model. A frozen layer then does what it did when its features were cached: Keras runs a
    frozen BatchNormalization in inference mode by itself, but not a frozen Dropout, and
    EfficientNet's and EfficientNetV2's blocks hold Dropout layers (drop-connect), so uncached
    training drew random masks where cached training drew none (#31). Where the frozen layers
    hand more than one tensor on (no cut: zoo.backbones.layers.find_cut), or nothing is frozen,
    it is ``assembled.model`` itself."""
    backbone = assembled.backbone
    cut = find_cut(backbone, index)[0]
    if cut is None:
        return assembled.model
    image = keras.Input(tuple(assembled.model.input.shape[1:]), name="image")
    frozen = keras.Model(backbone.input, cut, name=f"{assembled.card.name}_frozen_part")
    x = _InferenceMode(frozen, name=frozen.name)(_apply(assembled.front, image))
    if cut is not backbone.output:
        x = keras.Model(cut, backbone.output, name=f"{assembled.card.name}_trained_part")(x)
    return keras.Model(image, _apply(assembled.head, x), name=assembled.model.name)


def assemble(card, data_shape, num_classes: int, *, input_size: int, weights: str | None,
             freeze: str = "recommended", pooling: str = "recommended", preprocess: bool = True,
             head: str = "dense", dropout: float = 0.5, seed: int | None = None, resize: str = "crop"):
    """The protocol's model for ``card`` on images of ``data_shape`` (height, width, channels).

    Images of another size are resized inside the model by the ``resize`` policy (crop, squash,
    pad: the same as files get when decoded, zoo.data.decode); square images are resized alike by all.

    With ``seed``, random backbone weights (``weights=None``) are drawn from ``BACKBONE_SEED``
    and the head's from ``seed``: a random backbone is then one fixed backbone, like a
    checkpoint, whose frozen features every seed shares (and the feature store keeps).
    """
    check_pooling(card, pooling)
    pooling = card.pooling if pooling == "recommended" else pooling
    check_input_size(card, input_size, weights)
    if seed is not None:
        keras.utils.set_random_seed(BACKBONE_SEED)
    backbone = build_backbone(card, input_size, weights)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    index = resolve_freeze(freeze, card, backbone)
    apply_freeze(backbone, index)

    image = keras.Input(data_shape, name="image")
    front = []  # parameter-free layers that adapt the data to the backbone
    if tuple(data_shape[:2]) != (input_size, input_size):
        oblong = data_shape[0] != data_shape[1]
        front.append(keras.layers.Resizing(input_size, input_size, name="resize",
                                           crop_to_aspect_ratio=oblong and resize == "crop",
                                           pad_to_aspect_ratio=oblong and resize == "pad"))
    if data_shape[-1] == 1:  # after resizing: one channel is cheaper to resize than three
        front.append(GreyToRGB(name="grey_to_rgb"))
    converter = getattr(backbone, "zoo_image_converter", None)  # a preset's (scale, offset) (zoo.backbones.hub)
    if preprocess and converter:
        front.append(Preprocess(scale=converter[0], offset=converter[1], name="preprocess"))
    elif preprocess:
        if isinstance(card.preprocess, str):
            if card.preprocess != "none":  # "none": the backbone rescales inside
                front.append(Preprocess(mode=card.preprocess, name="preprocess"))
        else:
            front.append(Preprocess(card.name, name="preprocess"))
    head = head_layers(pooling, num_classes, head, dropout, card.prefix_tokens)
    model = keras.Model(image, _apply(head, backbone(_apply(front, image))), name=f"zoo_{card.name}")

    frozen = trainable = None
    cut, cut_name = find_cut(backbone, index)
    if cut is not None:
        lower = keras.Model(backbone.input, cut, name=f"{card.name}_frozen")
        frozen = keras.Model(image, lower(_apply(front, image)), name=f"zoo_{card.name}_frozen")
        features = keras.Input(tuple(cut.shape[1:]), name="features")
        x = features
        if cut is not backbone.output:
            x = keras.Model(cut, backbone.output, name=f"{card.name}_trainable")(x)
        trainable = keras.Model(features, _apply(head, x), name=f"zoo_{card.name}_head")
    return Assembled(card, input_size, index, backbone, model, frozen, trainable, cut_name, front, head)
