"""keras-hub's backbones as cards: the one factory the hub family files in plugins/ use
(plugins/vit.py, plugins/dinov2.py...), as zoo.backbones.catalogue is for the Keras Applications.

A family file is a dictionary of configs, one row per backbone: the keras-hub class and the
constructor arguments of its architecture (built offline with random weights for ``--weights
none``), the preset that ``--weights imagenet`` downloads through keras-hub's own cache, and what
the card says (sizes, pooling, preprocessing, freeze point, params, GMACs, published figures).
``--weights DIR`` reads a local preset folder in any format ``Backbone.from_preset`` reads offline
(keras-hub's own, Hugging Face transformers, timm). zoo.backbones.model.build_backbone then rebuilds a
transformer with a layer per block (zoo.backbones.blocks). keras-hub (and Keras) are imported when a
backbone is built, never when the cards are registered: ``zoo list`` stays fast and works
without them (the card says it needs ``zoo[hub]``).
"""

from __future__ import annotations

import re
import warnings

from ..core.card import Backbone, Published
from ..errors import BadInput, one_line


def quiet_swin_mask_warning() -> None:
    """Silence, for the rest of the process, one Keras warning that keras-hub 0.32's Swin causes on
    every build and every traced call: its blocks pass their shifted-window attention mask as
    ``mask=``, which Keras takes for a Keras mask that WindowAttention "does not support". It says
    nothing the user can act on. A filter, not a context: the calls come from Keras's fit and predict."""
    warnings.filterwarnings("ignore", message=r"Layer '.*' \(of type WindowAttention\) was passed an input "
                            "with a mask attached", category=UserWarning)


def _load(cls: str, part: str | None, source: str, image_shape, overrides: dict):
    """A pretrained backbone from a preset name or folder, ``overrides`` applied to its arguments;
    ``part`` picks the image encoder out of a two-tower model (CLIP's and SigLIP's
    ``vision_encoder``) unless the folder holds it alone."""
    import keras_hub

    kwargs = {**overrides, **({} if image_shape is None else {"image_shape": image_shape})}
    loaded = keras_hub.models.Backbone.from_preset(source, **kwargs)
    if part and type(loaded).__name__ != cls:
        loaded = getattr(loaded, part)
    return loaded


def image_converter(source: str):
    """``(scale, offset)`` of the preset's ImageConverter (per channel, ``x * scale + offset``),
    or None when the preset carries none (zoo then uses the card's preprocessing mode)."""
    import keras_hub

    try:  # keras-hub's own folder: image_converter.json; timm's: pretrained_cfg's mean and std
        converter = keras_hub.layers.ImageConverter.from_preset(source)
    except Exception:  # noqa: BLE001 (FileNotFoundError, ValueError...): the preset saved none
        return None
    if converter is None or (converter.scale is None and converter.offset is None):  # Hugging Face's: None
        return None

    def per_channel(value, default):
        value = default if value is None else value
        return [float(v) for v in (value if isinstance(value, (list, tuple)) else [value] * 3)]

    return per_channel(converter.scale, 1.0), per_channel(converter.offset, 0.0)


def hub_backbone(name: str, *, cls: str, arguments: dict, preset: str | None, default_input_size: int,
                 min_input_size: int, size_multiple: int, output: str, pooling: str, preprocess: str,
                 freeze_layer: str | None, params: int, gmacs: dict, prefix_tokens: int = 0,
                 weights_size: int | None = None, part: str | None = None, published: Published | None = None,
                 reference: str = "", overrides: dict | None = None) -> Backbone:
    """The card of keras-hub backbone ``name``: ``keras_hub.models.<cls>(**arguments)`` without
    weights, ``preset`` with them (None: keras-hub has no pretrained preset). ``weights_size``: the
    pretrained weights load at this size alone (learned position embeddings for one patch grid);
    without it the preset is rebuilt at the trial's size (DINOv2 and DINOv3 interpolate theirs).
    ``params`` and ``gmacs`` are at the default input size (DINOv2's count grows with the size).
    ``overrides``: arguments a preset is loaded with whatever it says (Swin's stochastic depth off)."""

    def build(input_shape, weights):
        import keras_hub

        quiet_swin_mask_warning()
        if weights is None:
            model = getattr(keras_hub.models, cls)(**arguments, image_shape=tuple(input_shape))
            converter = None
        else:
            source = preset if weights == "imagenet" else weights
            try:
                model = _load(cls, part, source, None if weights_size else tuple(input_shape), overrides or {})
            except Exception as exc:
                if weights != "imagenet":
                    raise  # zoo.backbones.model.build_backbone says what the folder must hold
                host = re.search(r"host='([^']+)'", str(exc))  # requests' wording: the host, not a page of it
                reason = f"{type(exc).__name__}: {host.group(1)} unreachable" if host else one_line(exc)
                raise BadInput(f"ImageNet weights for {name} could not be downloaded (keras-hub preset {preset}, "
                               f"{reason}): connect once (keras-hub keeps them in its cache), or pass "
                               "--weights DIR (a preset folder) or --weights none.") from None
            if type(model).__name__ != cls:  # another family's folder would train under this card's name
                raise BadInput(f"weights {weights} hold a keras-hub {type(model).__name__}, not {name}'s {cls}: "
                               f"give a {cls} preset folder, or the card of the family it holds (`zoo list`).")
            converter = image_converter(source)
        size = tuple(model.inputs[0].shape[1:3])
        if size != tuple(input_shape[:2]):  # a preset folder for another patch grid
            raise BadInput(f"weights {weights} take {size[0]}x{size[1]} images, not "
                           f"{input_shape[0]}x{input_shape[1]}: give --input-size {size[0]}.")
        model.zoo_image_converter = converter  # read by zoo.backbones.model.build_backbone and assemble
        return model

    return Backbone(
        name=name, build=build, preprocess=preprocess, min_input_size=min_input_size,
        default_input_size=default_input_size, freeze_layer=freeze_layer, pooling=pooling,
        description=f"keras-hub {cls}: {params / 1e6:.1f}M parameters, {gmacs[default_input_size]:.2f} GMACs at "
                    f"{default_input_size}x{default_input_size}.",
        reference=reference, params=params, gmacs=gmacs, published=published, output=output,
        prefix_tokens=prefix_tokens, size_multiple=size_multiple, weights_size=weights_size,
        weights_folder=True, requires="hub", imagenet=preset is not None)


def register_all(register, configs: dict, **family) -> None:
    """Register a hub family file's configs (``name -> hub_backbone keywords``)."""
    for name, config in configs.items():
        register(hub_backbone(name, **{**family, **config}))
