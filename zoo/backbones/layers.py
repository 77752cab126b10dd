"""Layers of a built backbone: where the freeze point is, where the frozen part hands one tensor
on (the cut), and what each layer looks like. Keras itself is imported only where a function needs it."""

from __future__ import annotations

import math

from ..errors import BadInput


def freeze_index(model, freeze_layer: str | None, backbone: str = "backbone") -> int:
    """Index in ``model.layers`` of the first trainable layer; the layer count when all is frozen."""
    if freeze_layer is None:
        return len(model.layers)
    for index, layer in enumerate(model.layers):
        if layer.name == freeze_layer:
            return index
    raise BadInput(f"layer {freeze_layer!r} is not in {backbone}; "
                   f"`zoo layers {backbone}` lists its layers.")


def resolve_freeze(spec: str, card, model) -> int:
    """``--freeze recommended|all|none|LAYER_NAME|INDEX`` as a freeze index."""
    count = len(model.layers)
    if spec == "recommended":
        return freeze_index(model, card.freeze_layer, card.name)
    if spec == "all":
        return count
    if spec == "none":
        return 0
    if spec.lstrip("-").isdigit():
        index = int(spec)
        if not 0 <= index <= count:
            raise BadInput(f"--freeze {spec}: {card.name} has layers 0..{count - 1}; "
                           f"give an index from 0 to {count} ({count} freezes all).")
        return index
    return freeze_index(model, spec, card.name)


def last_block_index(model) -> int:
    """Index of the first layer of the backbone's last block.

    Keras names a block's layers with a shared prefix (``block5_conv1``,
    ``conv5_block1_1_conv``): the last layer's prefix marks the block. Without
    one, the last layer that has weights.
    """
    layers = model.layers
    prefix, sep, _ = layers[-1].name.partition("_")
    if sep:
        for index, layer in enumerate(layers):
            if layer.name.startswith(prefix + "_"):
                return index
    weighted = [i for i, layer in enumerate(layers) if layer.weights]
    return weighted[-1] if weighted else len(layers) - 1


def resolve_unfreeze(spec: str | None, card, model, frozen_until: int) -> int:
    """``--unfreeze-from LAYER|INDEX`` as an index below stage one's freeze index ``frozen_until``.

    The default is the card's freeze layer, or where the card freezes everything the last block
    (for a transformer, the last quarter of its blocks: transformer_freeze_point).
    """
    if spec is None:
        point = card.freeze_layer or (transformer_freeze_point(model) if card.output != "map" else None)
        index = freeze_index(model, point, card.name) if point else last_block_index(model)
    else:
        index = resolve_freeze(spec, card, model)
    if index >= frozen_until:
        shown = model.layers[frozen_until].name if frozen_until < len(model.layers) else "the whole backbone"
        raise BadInput(f"--unfreeze-from {spec or model.layers[index].name}: nothing to unfreeze, stage one "
                       f"already trains {card.name} from {shown}; give an earlier layer, or --freeze all.")
    return index


def apply_freeze(model, index: int) -> None:
    """Freeze ``model.layers[:index]``. A frozen BatchNormalization runs in inference mode."""
    for position, layer in enumerate(model.layers):
        layer.trainable = position >= index


def count_params(weights) -> int:
    """How many numbers a list of weights (variables) holds."""
    return int(sum(math.prod(w.shape) for w in weights))


def _shape(layer) -> str:
    try:
        return str(tuple(layer.output.shape))
    except (AttributeError, ValueError):  # a layer used more than once has no single output
        return "multiple"


def layer_rows(model, index: int) -> list[dict]:
    """One row per layer: index, name, type, output shape, params, trainable under the freeze."""
    return [
        {
            "index": i,
            "name": layer.name,
            "type": type(layer).__name__,
            "output_shape": _shape(layer),
            "params": count_params(layer.weights),
            "trainable": i >= index,
        }
        for i, layer in enumerate(model.layers)
    ]


def find_cut(backbone, index: int):
    """The single tensor the frozen layers ``[:index]`` hand to the trainable ones, and the
    operation that makes it: the frozen part's output and the trained part's input.

    Operations that are not layers count too: ConvNeXt adds its residuals and MobileNetV3 makes
    its hard-swish with ``keras.ops``, which a functional model keeps among its ``operations``
    but not its ``layers``. Looking at layers alone, ConvNeXt's cut was the last block's scaled
    branch without its residual, and no model could be built above it (#31).

    Returns ``(tensor, name)``, or ``(None, reason)`` when there is no such tensor.
    """
    import keras  # keras.tree walks nested outputs; `zoo list` imports this module without Keras

    layers = backbone.layers
    if index <= 0:
        return None, "nothing is frozen"
    if index >= len(layers):
        if len(backbone.outputs) != 1:
            return None, "the backbone has several outputs"
        return backbone.output, layers[-1].name
    operations = backbone.operations  # layers and keras.ops, in the order the graph runs them
    start = next(i for i, operation in enumerate(operations) if operation is layers[index])
    produced = {id(t): operation.name for operation in operations[:start]
                for t in keras.tree.flatten(operation.output)}
    crossing = {id(t): t for operation in operations[start:] for t in keras.tree.flatten(operation.input)
                if id(t) in produced}
    if len(crossing) != 1:
        return None, f"the trainable layers read {len(crossing)} tensors from the frozen ones"
    (key, tensor), = crossing.items()
    return tensor, produced[key]


def last_stage_start(model) -> str | None:
    """The recommended freeze point, one rule for every family: the first layer of the last stage.

    Why: the last stage holds the most task-specific features, so training it adapts the
    backbone at the least cost, while the frozen part's output can be computed once and cached.
    The last stage is where the feature map reaches its final spatial size; its first layer is
    the first layer with weights whose output has that size (a transition's pooling has no
    weights and stays with the stage before, as in DenseNet). Where the layers before it hand
    more than one tensor to the rest (mid-block), the point moves back to where they hand one,
    within the stage before, so that zoo can cache the frozen part. Where no layer qualifies
    (VGG's last pooling does the final downsampling; NASNet's cells always read two tensors),
    the whole backbone is frozen: None, as in the classic VGG16 recipe.
    Applied at the card's default input size, where every stage has its own resolution.
    """
    final = tuple(model.output.shape[1:3])
    layers = model.layers
    start = next((i for i, layer in enumerate(layers) if layer.weights and len(layer.output.shape) == 4
                  and tuple(layer.output.shape[1:3]) == final), None)
    if start is None:
        return None
    previous = min((layer.output.shape[1] for layer in layers[:start] if len(layer.output.shape) == 4
                    and layer.output.shape[1] > final[0]), default=final[0])  # the stage before's size
    for index in range(start, 0, -1):
        if find_cut(model, index)[0] is not None:
            return layers[index].name
        if len(layers[index - 1].output.shape) == 4 and layers[index - 1].output.shape[1] > previous:
            break  # back past the stage before: no single tensor to cache here (NASNet's cells read two)
    return None


def transformer_freeze_point(model) -> str | None:
    """The recommended freeze point for a transformer: the first of the last quarter of its blocks,
    so that the last quarter and the final norm train, the "last stage" of zoo.backbones.layers.last_stage_start.
    The blocks are the layer type with weights that repeats most (Swin's patch merging repeats less)."""
    kinds: dict = {}
    for index, layer in enumerate(model.layers):
        if layer.weights:
            kinds.setdefault(type(layer).__name__, []).append(index)
    blocks = max(kinds.values(), key=len, default=[])
    if len(blocks) < 2:
        return None
    return model.layers[blocks[len(blocks) - len(blocks) // 4]].name
