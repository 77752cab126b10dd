"""keras-hub's transformers rebuilt with one layer per block, so that zoo can freeze by block and
cache the frozen part's output, as it does for the CNNs' layers.

keras-hub nests the blocks inside one or two top-level layers (``vit_encoder.encoder_layers``,
``encoder.layers``), so an index into ``backbone.layers`` can only freeze all or nothing. A
functional model that calls the same layer objects in the same order gives identical outputs
and parameters (tests/test_hub.py checks it), with a layer per block.
"""

from __future__ import annotations

import keras


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


def _nested_parts(backbone):
    """keras-hub transformer backbones: the layers their call runs, in order, on one tensor (by
    keras-hub class; read from keras-hub 0.32's ``call`` methods), as ``(layer, kwargs)`` pairs.
    Most nest their blocks inside one top-level layer; CLIP and SigLIP are flat but take a dict.
    None for a backbone that needs no rebuilding (the CNNs)."""
    kind, get = type(backbone).__name__, backbone.get_layer
    if kind == "ViTBackbone":
        encoder = get("vit_encoder")
        layers = [get("vit_patching_and_embedding"), encoder.dropout, *encoder.encoder_layers, encoder.layer_norm]
    elif kind == "DeiTBackbone":  # its blocks return (tokens, scores), the scores None unless asked for:
        encoder = get("deit_encoder")  # asked, since a functional model's outputs must all be tensors
        return [(get("deit_patching_and_embedding"), {}),
                *[(block, {"return_attention_scores": True}) for block in encoder.encoder_layers],
                (encoder.layer_norm, {})]
    elif kind == "DINOV2Backbone":
        layers = [backbone.embeddings, *backbone.encoder.layers, backbone.layernorm]
    elif kind == "DINOV3Backbone":
        size, prefix = tuple(backbone.image_shape[:2]), 1 + backbone.num_register_tokens
        layers = [backbone.embeddings, *[RopeBlock(block, backbone.rope_embedding, size, prefix)
                                         for block in backbone.encoder.layers], backbone.layernorm]
    elif kind == "CLIPVisionEncoder":
        layers = [get("embedding"), get("pre_layer_norm"), *backbone.encoder_layers, get("layer_norm")]
    elif kind == "SigLIPVisionEncoder":
        layers = [get("embedding"), *backbone.encoder_layers, get("post_layer_norm"), get("head")]
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
    transformer block, so that zoo can freeze by block and cache at a block's output.

    The weights are the same objects, so outputs and parameter counts are identical. A block that
    returns a tuple (DeiT's block also returns attention scores) hands on its first element.
    A backbone that is flat already (or unknown) is returned as it is.
    """
    parts = _nested_parts(backbone)
    if parts is None:
        return backbone
    image = keras.Input(tuple(keras.tree.flatten(backbone.input)[0].shape[1:]), name="images")  # DINOv2's is a dict
    x = image
    for layer, kwargs in parts:
        x = layer(x, **kwargs)
        if isinstance(x, (tuple, list)):
            x = x[0]
    return keras.Model(image, x, name=backbone.name)
