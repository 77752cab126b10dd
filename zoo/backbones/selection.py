"""Choosing backbones from their cards, at once: the filters and sorting `zoo list`, `zoo compare`,
`zoo rank` and `zoo bench` share, a card as a row, and the plan line. Nothing here builds a
model or imports Keras (zoo.backbones.listing shows what building one shows)."""

from __future__ import annotations

import fnmatch
import warnings

from ..core.registry import get_backbone, list_backbones, registrations
from ..errors import BadInput
from ..plugins import provider
from .checks import missing_packages

SORTS = ("name", "top1", "params", "gmacs")


def parse_count(text) -> int | None:
    """``--max-params 25M``: a count with an optional k, M or G."""
    if text is None:
        return None
    scale = {"k": 1e3, "m": 1e6, "g": 1e9}.get(str(text)[-1:].lower(), 1)
    try:
        return int(float(str(text)[:-1] if scale != 1 else text) * scale)
    except ValueError:
        raise BadInput(f"--max-params {text!r}: give a number of parameters, like 25000000 or 25M.") from None


def gmacs_at(card, size: int) -> float | None:
    """The card's GMACs at ``size`` px: measured where the card has that size, else scaled from its
    default size by area (convolutions cost in proportion to the pixels; an estimate)."""
    table = card.gmacs or {}
    if size in table:
        return table[size]
    if card.default_gmacs is None:
        return None
    return card.default_gmacs * (size / card.default_input_size) ** 2


def select_backbones(patterns=(), *, max_params=None, max_gmacs=None, sort: str = "name") -> list[str]:
    """Names of the backbones matching any of ``patterns`` (wildcards; none: all) within the
    limits, sorted. A card without the figure a limit needs is left out by that limit."""
    names = list_backbones()
    if patterns:
        wanted = [p.lower() for p in patterns]
        names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in wanted)]
    cards = {name: registrations()[name].card for name in names}
    max_params = parse_count(max_params)
    if max_params is not None:
        names = [n for n in names if cards[n].params is not None and cards[n].params <= max_params]
    if max_gmacs is not None:
        names = [n for n in names if cards[n].default_gmacs is not None and cards[n].default_gmacs <= max_gmacs]
    key = {"name": lambda n: n,
           "top1": lambda n: -(_published(cards[n], "top1") or -1),  # best first, unknown last
           "params": lambda n: cards[n].params if cards[n].params is not None else float("inf"),
           "gmacs": lambda n: cards[n].default_gmacs if cards[n].default_gmacs is not None else float("inf")}
    if sort not in key:
        raise BadInput(f"--sort {sort!r}: choose one of {', '.join(SORTS)}.")
    return sorted(names, key=key[sort])


def _published(card, field: str):
    return getattr(card.published, field) if card.published else None


def card_row(name: str) -> dict:
    """A card as the row `zoo list --json` prints: what is known without building anything."""
    entry = registrations()[name]
    card = entry.card
    return {"name": name, "plugin": provider(entry.plugin), "min_input_size": card.min_input_size,
            "default_input_size": card.default_input_size, "freeze_layer": card.freeze_layer,
            "pooling": card.pooling, "preprocess": card.preprocess_mode, "params": card.params,
            "gmacs": card.default_gmacs, "imagenet_top1": _published(card, "top1"),
            "imagenet_top1_protocol": _published(card, "top1_protocol"), "imagenet_top5": _published(card, "top5"),
            "size_multiple": card.size_multiple, "needs": f"zoo[{card.requires}]" if missing_packages(card) else None,
            "description": card.description}


def choose(names, all_: bool = False, *, max_params=None, max_gmacs=None) -> list[str]:
    """The backbones a command runs: the names given (wildcards expand, in name order) or every
    registered one with ``all_`` (but those whose extra is not installed: a warning says so),
    within the limits. Unknown names, empty choices, and names
    together with ``all_``, are refused (BadInput): the one check of "names or --all"."""
    names = list(dict.fromkeys(names))
    if all_ and names:
        raise BadInput("give backbone names or --all, not both.")
    if not all_ and not names:
        raise BadInput("name one or more backbones, or pass --all (see `zoo list`).")
    patterns = [n for n in names if any(c in n for c in "*?[")]
    for name in names:
        if name not in patterns:
            get_backbone(name)  # an unknown name fails here, with the closest known one
    if not all_ and not patterns and max_params is None and max_gmacs is None:
        return names  # as given, in the user's order
    chosen = select_backbones([] if all_ else names, max_params=max_params, max_gmacs=max_gmacs)
    if all_:  # every backbone that can run here: one whose extra is missing is not refused, but left out
        needing = {name: get_backbone(name).requires for name in chosen if missing_packages(get_backbone(name))}
        if needing:
            extras = " ".join(sorted({f'"zoo[{extra}]"' for extra in needing.values()}))
            warnings.warn(f"--all leaves out the {len(needing)} backbones whose packages are not installed "
                          f"(pip install {extras} adds them).", stacklevel=2)
            chosen = [name for name in chosen if name not in needing]
    if not chosen:
        raise BadInput(f"no backbone matches {' '.join(names) or '--all'} within the limits given (see `zoo list`).")
    return chosen


def plan_line(names, sizes: dict[str, int], images: int | None = None) -> str:
    """What a run is about to do, from the cards: so nobody starts a multi-day run by surprise."""
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    costs = [gmacs_at(get_backbone(name), sizes[name]) for name in names]
    known = [c for c in costs if c is not None]
    text = f"Plan: {len(names)} backbone{'s' if len(names) != 1 else ''} ({shown})"
    if known:
        per_image = sum(known)
        text += f"; about {per_image:,.2f}" if per_image >= 1 else f"; about {per_image:.3g}"
        text += " GMACs per image through them all"
        if images:
            text += f", {per_image * images / 1e3:,.1f} TMACs per pass over {images:,} images"
        if len(known) < len(costs):
            text += f" ({len(costs) - len(known)} without figures on their cards)"
    return text + "."
