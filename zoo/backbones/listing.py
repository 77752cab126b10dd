"""What building a backbone shows: `zoo info`'s card in full, `zoo layers`' table, and
`zoo plugins --check`, which builds every backbone to find the plugins that cannot. Each builds
a model without weights (zoo.backbones.selection answers from the cards alone)."""

from __future__ import annotations

import keras

from ..core.registry import get_backbone, plugin_report, registrations
from ..errors import one_line
from ..plugins import warn
from .checks import check_extra, check_input_size, missing_packages
from .cost import gmacs
from .layers import find_cut, freeze_index, layer_rows
from .model import build_backbone
from .selection import card_row


def _built(card, size: int):
    """``card``'s backbone at ``size``, without weights, in a fresh Keras session as every build:
    the cards name layers that Keras numbers per session (InceptionV3's ``conv2d_72``)."""
    check_extra(card)
    check_input_size(card, size)
    keras.utils.clear_session()
    return build_backbone(card, size, None)


def card_info(name: str, size: int | None = None) -> dict:
    """``card_row`` with the published figures, and what building the backbone at ``size``
    (default: its default input size) shows. Builds one model, without weights."""
    card = get_backbone(name)
    size = size or card.default_input_size
    model = _built(card, size)
    index = freeze_index(model, card.freeze_layer, name)
    published = {f"published_{key}": value for key, value in vars(card.published).items()} if card.published else {}
    try:
        cost = round(gmacs(model), 3)
    except ValueError:  # a plugin's layer type zoo.backbones.cost does not count: the rest of the card still shows
        cost = None
    return {**card_row(name), "reference": card.reference or None, **published, "input_size": size,
            "layers": len(model.layers), "output_shape": str(tuple(model.output.shape)), "freeze_index": index,
            "cut": find_cut(model, index)[1], "params_at_size": int(model.count_params()), "gmacs_at_size": cost}


def layer_table(name: str, size: int | None = None) -> tuple[int, list[dict]]:
    """``zoo layers``: the size built at (default: the min input size) and one row per layer of
    backbone ``name`` (zoo.backbones.layers.layer_rows), trainable or not under its recommended freeze."""
    card = get_backbone(name)
    size = size or card.min_input_size
    model = _built(card, size)
    return size, layer_rows(model, freeze_index(model, card.freeze_layer, name))


def check_plugins():
    """``zoo plugins --check``: the plugin report (zoo.core.registry.plugin_report), with each plugin
    broken whose backbone cannot be built at its min input size without weights, or its freeze
    layer placed. Slow: it builds every backbone (but those whose extra is not installed: `zoo list`
    says what they need)."""
    failures: dict[str, str] = {}
    for name, entry in registrations("backbone").items():
        if entry.plugin in failures or missing_packages(entry.card):
            continue
        card = entry.card
        try:
            # Each in a fresh session, as zoo always builds them: Keras numbers unnamed layers
            # (InceptionV3's conv2d_72) by a session-wide count, and cards name them so.
            keras.utils.clear_session()
            freeze_index(build_backbone(card, card.min_input_size, None), card.freeze_layer, name)
        except Exception as exc:
            failures[entry.plugin] = f"backbone {name!r} could not be built: {one_line(exc)}"
            warn(f"plugin {entry.plugin!r}: {failures[entry.plugin]}")
    return plugin_report(failures)
