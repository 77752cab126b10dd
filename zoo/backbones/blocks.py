"""keras-hub's transformers rebuilt with one layer per block, so that zoo can freeze by block and
cache the frozen part's output, as it does for the CNNs' layers.

keras-hub nests the blocks inside one or two top-level layers (``vit_encoder.encoder_layers``,
``encoder.layers``), so an index into ``backbone.layers`` can only freeze all or nothing. A
functional model that calls the same layer objects in the same order gives identical outputs
and parameters (tests/backbones/test_hub.py checks it), with a layer per block.
"""

from __future__ import annotations

import keras

from .hub import quiet_swin_mask_warning


@keras.saving.register_keras_serializable(package="zoo")
class RopeBlock(keras.layers.Layer):
    """A DINOv3 block with its rotary position embedding inside: the block reads the token grid's
    RoPE (cos, sin), which depends on the image size alone, so computing it here leaves one tensor
    between blocks, and the frozen blocks' output can be cached like any other."""

    def __init__(self, block, rope, image_size, prefix_tokens: int, **kwargs):
        if isinstance(block, dict):  # from a saved model's config
            block, rope = keras.saving.deserialize_keras_object(block), keras.saving.deserialize_keras_object(rope)
        super().__init__(name=kwargs.pop("name", block.name), **kwargs)
        self.block, self.rope = block, rope
        self.image_size, self.prefix_tokens = tuple(image_size), prefix_tokens

    def call(self, tokens, training=None):
        # The rope reads its input's height and width alone.
        grid = self.rope(keras.ops.zeros((1, *self.image_size, 3), dtype=tokens.dtype))
        return self.block(tokens, position_embeddings=grid, num_prefix_tokens=self.prefix_tokens, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "block": keras.saving.serialize_keras_object(self.block),
                "rope": keras.saving.serialize_keras_object(self.rope), "image_size": list(self.image_size),
                "prefix_tokens": self.prefix_tokens}


@keras.saving.register_keras_serializable(package="zoo")
class TokensOnly(keras.layers.Layer):
    """A DeiT block that hands on its tokens alone: it returns (tokens, None), and a functional
    model's outputs must all be tensors; asking it for its attention scores instead would compute
    them (batch, heads, N, N) for nothing, and keep attention off its fused path."""

    def __init__(self, block, **kwargs):
        if isinstance(block, dict):  # from a saved model's config
            block = keras.saving.deserialize_keras_object(block)
        super().__init__(name=kwargs.pop("name", block.name), **kwargs)
        self.block = block

    def call(self, tokens, training=None):
        return self.block(tokens, training=training)[0]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "block": keras.saving.serialize_keras_object(self.block)}


@keras.saving.register_keras_serializable(package="zoo")
class TrueShape(keras.layers.Layer):
    """Passes its input on, declaring the shape (without the batch) that it really has, where the
    layer before it declared another (hand-written: Reshape checks the declared size it corrects)."""

    def __init__(self, shape, **kwargs):
        super().__init__(**kwargs)
        self.shape = tuple(shape)

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.shape)

    def get_config(self):
        return {**super().get_config(), "shape": list(self.shape)}


def _nested_parts(backbone):
    """keras-hub transformer backbones: the layers their call runs, in order, on one tensor (by
    keras-hub class; read from keras-hub 0.32's ``call`` methods), as ``(layer, kwargs)`` pairs.
    Most nest their blocks inside one top-level layer; CLIP and SigLIP are flat but take a dict.
    None for a backbone that needs no rebuilding (the CNNs)."""
    kind, get = type(backbone).__name__, backbone.get_layer
    if kind == "ViTBackbone":
        encoder = get("vit_encoder")
        layers = [get("vit_patching_and_embedding"), encoder.dropout, *encoder.encoder_layers, encoder.layer_norm]
    elif kind == "DeiTBackbone":
        encoder = get("deit_encoder")
        layers = [get("deit_patching_and_embedding"), *map(TokensOnly, encoder.encoder_layers), encoder.layer_norm]
    elif kind == "DINOV2Backbone":
        layers = [backbone.embeddings, *backbone.encoder.layers, backbone.layernorm]
    elif kind == "DINOV3Backbone":
        size, prefix = tuple(backbone.image_shape[:2]), 1 + backbone.num_register_tokens
        layers = [backbone.embeddings, *[RopeBlock(block, backbone.rope_embedding, size, prefix)
                                         for block in backbone.encoder.layers], backbone.layernorm]
    elif kind == "CLIPVisionEncoder":
        layers = [backbone.embedding, backbone.pre_layer_norm, *backbone.encoder_layers, backbone.layer_norm]
    elif kind == "SigLIPVisionEncoder":
        layers = [backbone.embedding, *backbone.encoder_layers, backbone.post_layer_norm, backbone.head]
    elif kind == "SwinTransformerBackbone":
        parts = [(get("patch_embedding"), {}), (get("pos_drop"), {})]
        stages = [layer for layer in backbone.layers if type(layer).__name__ == "SwinTransformerStage"]
        for number, stage in enumerate(stages):
            for index, block in enumerate(stage.blocks):  # each stage names its blocks blocks_0...:
                block.name = f"stage_{number}_block_{index}"  # one model needs unique names
                parts.append((block, {}))
            if stage.downsample is not None:  # patch merging needs the grid it merges
                stage.downsample.name = f"stage_{number}_merging"
                height, width = stage.input_resolution
                parts.append((stage.downsample, {"H": height, "W": width}))
        return parts + [(get("norm"), {})]
    else:
        return None
    return [(layer, {}) for layer in layers]


def flatten_blocks(backbone):
    """``backbone`` rebuilt as a functional model that calls the same layer objects, one layer per
    transformer block (a ``FlatBackbone``), so that zoo can freeze by block and cache at a block's
    output. The weights are the same objects, so outputs and parameter counts are identical.
    A backbone that needs no rebuilding (the CNNs, or unknown) is returned as it is.
    """
    return backbone if _nested_parts(backbone) is None else FlatBackbone(backbone)


@keras.saving.register_keras_serializable(package="zoo")
class FlatBackbone(keras.Model):
    """A keras-hub backbone as a functional model with a layer per block (flatten_blocks).

    It saves as the keras-hub backbone's own config and is rebuilt from it on load: keras-hub
    serialises whole backbones by their constructor arguments, and some of its layers do not
    load on their own (ViT's patch embedding writes sizes its constructor refuses; Swin's cannot
    be saved), so a saved zoo model goes through the path keras-hub itself uses and tests.
    """

    def __init__(self, backbone, name=None, frozen=(), **kwargs):
        quiet_swin_mask_warning()  # a saved model rebuilt, or fit and predict after this
        if isinstance(backbone, dict):  # from a saved model's config
            backbone = keras.saving.deserialize_keras_object(backbone)
        hub_config = keras.saving.serialize_keras_object(backbone)
        shape = tuple(keras.tree.flatten(backbone.input)[0].shape[1:])  # DINOv2's input is a dict
        image = keras.Input(shape, name="images")
        # One image through the same layers, for the shapes they really give: keras-hub 0.32 declares
        # some wrong (SigLIP's embedding counts a CLS token it does not add; Swin's patch merging
        # leaves the token count unknown), and the feature cache sizes its arrays by them.
        x, probe = image, keras.ops.zeros((1, *shape))
        parts = _nested_parts(backbone)
        for layer, _ in parts:
            # Detached from keras-hub's graph, which this model replaces: Keras reads a layer's
            # input and output (zoo.backbones.layers.find_cut, zoo.backbones.cost) from its first call, and has no
            # public way to drop the calls of a model that is thrown away.
            layer._inbound_nodes.clear()
            layer._outbound_nodes.clear()
        for layer, call_kwargs in parts:
            # keras-hub prefixes its layers with the backbone's name when it has one (a preset's, a
            # saved model's): the names the cards give are without it.
            layer.name = layer.name.removeprefix(f"{backbone.name}_")
            x, probe = layer(x, **call_kwargs), layer(probe, **call_kwargs)
            if tuple(x.shape[1:]) != tuple(probe.shape[1:]):
                x = TrueShape(tuple(probe.shape[1:]), name=f"{layer.name}_shape")(x)
        super().__init__(image, x, name=name or backbone.name, **kwargs)
        self._hub_config = hub_config
        for layer in self.layers:  # a saved model keeps its freeze
            if layer.name in frozen:
                layer.trainable = False

    def get_config(self):
        return {"backbone": self._hub_config, "name": self.name,
                "frozen": [layer.name for layer in self.layers if not layer.trainable and layer.weights]}
