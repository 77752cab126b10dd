"""What a backbone costs: multiply-accumulates (GMACs) of one image through it, counted per layer.

Hand-written because Keras has no FLOPs counter (keras-team/keras issue 18391) and the
maintained counters are tied to one framework (TensorFlow's profiler, fvcore for PyTorch):
this count reads only the built model's layers and their symbolic shapes, so it is the same
on every Keras backend and runs nothing. It counts what timm's and torchvision's published
figures count: the multiply-accumulates of convolutions and dense layers, and in transformers
also the two matrix products of attention (queries by keys, attention by values), which fvcore
counts: 4% of ViT-B/16's cost at 224 px, 37% of DINOv2-S's at 518 px. Normalisation,
activations, pooling, element-wise ops, position embeddings and RoPE add under 1% and are left out.
A layer type it does not know that holds weights is refused, so no cost is ever missed quietly.

keras-hub's transformers are counted as zoo.backbones.blocks rebuilds them, a top-level layer per block:
a block's input shape gives its tokens, each dense layer nested in it costs tokens x its kernel's
size, and each attention layer its two matmuls; a layer fed the image that nests one convolution
is a patch embedding. Where that generic rule is wrong (Swin's windows and patch merging,
SigLIP's pooling head) the layer is counted by its class.
"""

from __future__ import annotations

import math

# Layers with no multiply-accumulates worth counting (or none at all).
_FREE = {
    "InputLayer", "BatchNormalization", "LayerNormalization", "Activation", "ReLU", "Softmax", "Add",
    "Multiply", "Concatenate", "ZeroPadding2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
    "GlobalMaxPooling2D", "Rescaling", "Normalization", "Reshape", "Dropout", "Cropping2D", "Identity",
    "Flatten", "Lambda", "Subtract", "Maximum", "Minimum", "Average", "Permute", "LayerScale",
    "StochasticDepth", "Resizing", "TFOpLambda", "Preprocess", "GreyToRGB", "SpatialDropout2D",
    "Embedding", "DINOV2LayerScale", "DINOV3LayerScale",  # a table look-up; a per-channel scale
}


def _size(shape) -> int:
    return math.prod(int(d) for d in shape[1:])


def _layer_macs(layer, input_shape, output_shape) -> int:
    kind = type(layer).__name__
    if kind in ("Conv2D", "Conv1D", "Conv3D"):
        kernel = math.prod(layer.kernel_size)
        groups = getattr(layer, "groups", 1) or 1
        return _size(output_shape) * kernel * int(input_shape[-1]) // groups
    if kind == "DepthwiseConv2D":
        return _size(output_shape) * math.prod(layer.kernel_size)
    if kind == "SeparableConv2D":
        depthwise = _size(output_shape[:-1] + (int(input_shape[-1]) * layer.depth_multiplier,))
        return depthwise * math.prod(layer.kernel_size) + _size(output_shape) * int(input_shape[-1]) * \
            layer.depth_multiplier
    if kind == "Dense":
        return _size(output_shape) * int(input_shape[-1])
    if kind in _FREE or not layer.weights:
        return 0
    if len(input_shape) == 4 and _children(layer):  # a patch embedding, fed the image
        return _patch_embedding(layer, input_shape)
    if len(input_shape) == 3 and _children(layer):  # a transformer block (or head), fed tokens
        return _tokens_macs(layer, input_shape)
    _refuse(layer)


def macs(model) -> int:
    """Multiply-accumulates of one image through a built Keras model (functional or sequential,
    nested ones included)."""
    total = 0
    for layer in model.layers:
        if hasattr(layer, "layers"):  # a nested model: count its layers with their own shapes
            total += _nested(layer)
            continue
        if type(layer).__name__ in _FREE or not layer.weights:  # no weights, no multiply-accumulates
            continue  # (and some, Add or Concatenate, take lists: no one shape to read)
        total += _layer_macs(layer, _shape(layer.input), _shape(layer.output))
    return total


def _shape(tensors) -> tuple:
    """A layer's symbolic input or output shape; the first tensor's, for a layer that returns
    several."""
    return tuple((tensors[0] if isinstance(tensors, (list, tuple)) else tensors).shape)


def _refuse(layer):
    raise ValueError(f"zoo.backbones.cost does not know how to count layer {layer.name!r} ({type(layer).__name__}); "
                     "add its multiply-accumulates to zoo/backbones/cost.py")


def _nested(model) -> int:
    try:
        return macs(model)
    except (AttributeError, ValueError) as exc:  # a Sequential's layers may have no symbolic tensors
        if isinstance(exc, ValueError) and "does not know" in str(exc):
            raise
    total, shape = 0, tuple(model.input.shape)
    for layer in model.layers:
        out = tuple(layer.compute_output_shape(shape))
        total += _layer_macs(layer, shape, out)
        shape = out
    return total


# keras-hub's transformers, as zoo.backbones.blocks rebuilds them.


def _children(layer) -> list:
    return list(layer._flatten_layers(include_self=False, recursive=False))


def _own_weights(layer) -> list:
    """The weights a layer holds itself, not through the layers nested in it."""
    nested = {id(weight) for child in _children(layer) for weight in child.weights}
    return [weight for weight in layer.weights if id(weight) not in nested]


def _patch_embedding(layer, image_shape) -> int:
    """keras-hub's patch embeddings: one convolution over the image (patches x kernel); the class
    and register tokens and position embeddings they add cost nothing worth counting."""
    convolutions, total = 0, 0
    for inner in layer._flatten_layers(include_self=False):
        kind = type(inner).__name__
        if kind == "Conv2D":
            convolutions += 1
            total += _layer_macs(inner, image_shape, tuple(inner.compute_output_shape(image_shape)))
        elif kind not in _FREE and _own_weights(inner):
            _refuse(inner)
    if convolutions != 1:  # a second convolution would not read the image: its shapes are unknown here
        _refuse(layer)
    return total


def _tokens_macs(layer, shape) -> int:
    """A top-level layer fed tokens ``(batch, N, D)``: the generic rule, or the classes it gets wrong."""
    kind = type(layer).__name__
    if kind == "SwinTransformerBlock":
        # Its grid is read from the block: after a patch merging the symbolic shape has lost it.
        # Attention runs in windows, on the grid padded to whole windows; the MLP on the grid.
        height, width = layer.input_resolution
        window = layer.window_size
        padded = math.ceil(height / window) * window * math.ceil(width / window) * window
        return _inner_macs(layer.attn, padded) + _inner_macs(layer.mlp, height * width)
    if shape[1] is None:  # tokens only its call knows
        _refuse(layer)
    tokens = int(shape[1])
    if kind == "PatchMerging":  # each 2x2 of tokens concatenated, then a dense layer on N/4 tokens of 4C
        return _inner_macs(layer.reduction, tokens // 4)  # (an even grid: it pads an odd one)
    if kind == "SigLIPMultiHeadAttentionPooling":  # one learnt probe query attends to the N tokens;
        return _attention(layer.attention, 1, tokens) + _inner_macs(layer.mlp, 1)  # its MLP on the probe
    return _inner_macs(layer, tokens)


def _inner_macs(layer, tokens: int) -> int:
    """The generic rule: a layer applied to each of ``tokens`` tokens, walked down to its dense
    layers (tokens x kernel size each) and attention layers (their projections and matmuls)."""
    kind = type(layer).__name__
    if kind in ("Dense", "EinsumDense"):
        return tokens * _kernel(layer)
    if kind == "MultiHeadAttention":  # in a block, self-attention: the tokens are queries, keys and values
        return _attention(layer, tokens, tokens)
    total = sum(_inner_macs(child, tokens) for child in _children(layer))
    if kind == "DINOV3Attention":  # dense projections (walked above), its matmuls in dot_product_attention
        return total + 2 * tokens * tokens * layer.hidden_dim
    if kind == "WindowAttention":  # each token attends to the window_area tokens of its window
        return total + 2 * tokens * layer.window_area * layer.attn_dim
    # An attention layer's matmuls are in its call, where the walk cannot see them: refused unless
    # it wraps a MultiHeadAttention (DINOv2's), counted above; so are weights a layer holds itself.
    wraps = any(type(child).__name__ == "MultiHeadAttention" for child in _children(layer))
    if ("Attention" in kind and not wraps) or (kind not in _FREE and _own_weights(layer)):
        _refuse(layer)
    return total


def _attention(layer, queries: int, keys: int) -> int:
    """A keras.layers.MultiHeadAttention: its four projections, and the two matmuls of ``queries``
    queries with ``keys`` keys and values."""
    projections = queries * (_kernel(layer.query_dense) + _kernel(layer.output_dense)) + \
        keys * (_kernel(layer.key_dense) + _kernel(layer.value_dense))
    return projections + queries * keys * layer.num_heads * (layer.key_dim + layer.value_dim)


def _kernel(dense) -> int:
    """A Dense or EinsumDense layer's multiply-accumulates per token: its kernel's size."""
    return math.prod(dense.kernel.shape)


def gmacs(model) -> float:
    """Billions of multiply-accumulates of one image through ``model``."""
    return macs(model) / 1e9

