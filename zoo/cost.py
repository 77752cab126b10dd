"""What a backbone costs: multiply-accumulates (GMACs) of one image through it, counted per layer.

Hand-written because Keras has no FLOPs counter (keras-team/keras issue 18391) and the
maintained counters are tied to one framework (TensorFlow's profiler, fvcore for PyTorch):
this count reads only the built model's layers and their symbolic shapes, so it is the same
on every Keras backend and runs nothing. It counts what timm's and torchvision's published
figures count: the multiply-accumulates of convolutions and dense layers. Normalisation,
activations, pooling and element-wise ops add under 1% on these networks and are left out.
A layer type it does not know that holds weights is refused, so no cost is ever missed quietly.
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
    raise ValueError(f"zoo.cost does not know how to count layer {layer.name!r} ({kind}); "
                     "add its multiply-accumulates to zoo/cost.py")


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
        total += _layer_macs(layer, tuple(layer.input.shape), tuple(layer.output.shape))
    return total


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


def gmacs(model) -> float:
    """Billions of multiply-accumulates of one image through ``model``."""
    return macs(model) / 1e9

