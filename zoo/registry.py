"""The backbone registry: what the plugins registered, ``list_backbones`` and ``get_backbone``."""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, replace

from .card import Backbone
from .errors import BadInput
from .plugins import load_plugins, one_line, plugin_infos, pm, warn


@dataclass(frozen=True)
class Registration:
    card: Backbone
    plugin: str


@dataclass
class _Registry:
    backbones: dict[str, Registration]
    errors: dict[str, str]  # plugin name -> why it is broken


_cache: tuple[tuple, _Registry] | None = None


def _collect() -> _Registry:
    backbones: dict[str, Registration] = {}
    errors: dict[str, str] = {}
    # get_hookimpls() is in registration order: earlier plugins (built-ins first) win a name.
    for impl in pm.hook.register_backbones.get_hookimpls():
        plugin = impl.plugin_name

        def register(card, plugin=plugin):
            if not isinstance(card, Backbone):
                errors[plugin] = f"register() takes a zoo.Backbone, not {type(card).__name__}"
                warn(f"plugin {plugin!r}: {errors[plugin]}")
                return
            problems = card.problems()
            if problems:
                errors[plugin] = f"invalid card {card.name!r}: {'; '.join(problems)}"
                warn(f"plugin {plugin!r} skipped backbone: {errors[plugin]}")
            elif card.name in backbones:
                first = backbones[card.name].plugin
                warn(f"backbone {card.name!r} from plugin {plugin!r} rejected: "
                     f"plugin {first!r} already registered that name")
            else:
                backbones[card.name] = Registration(card, plugin)

        try:
            impl.function(register=register)
        except Exception as exc:  # a broken plugin must never brick the CLI
            errors[plugin] = f"register_backbones raised {one_line(exc)}"
            warn(f"plugin {plugin!r} skipped: {errors[plugin]}")
            for name in [n for n, r in backbones.items() if r.plugin == plugin]:
                del backbones[name]
    return _Registry(dict(sorted(backbones.items())), errors)


def _registry() -> _Registry:
    """The registry, recomputed only when the set of registered plugins changed."""
    global _cache
    load_plugins()
    key = tuple((pm.get_name(p), id(p)) for p in pm.get_plugins())
    if _cache is None or _cache[0] != key:
        _cache = (key, _collect())
    return _cache[1]


def registrations() -> dict[str, Registration]:
    """Every registered backbone by name, sorted, with the plugin that registered it."""
    return _registry().backbones


def list_backbones(pattern: str = "*") -> list[str]:
    """Names of the registered backbones matching an fnmatch ``pattern``, sorted."""
    return [name for name in registrations() if fnmatch.fnmatchcase(name, pattern.lower())]


def get_backbone(name: str) -> Backbone:
    """The card registered under ``name``; an unknown name lists the known ones."""
    known = registrations()
    if name in known:
        return known[name].card
    close = difflib.get_close_matches(name.lower(), known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise BadInput(f"unknown backbone {name!r}.{hint} Known backbones: {', '.join(known) or 'none'}"
                   " (see `zoo list`, or install a plugin that registers it).")


def plugin_report():
    """``plugin_infos()`` with each plugin's backbones and registration errors filled in."""
    registry = _registry()
    return [replace(info,
                    backbones=[n for n, r in registry.backbones.items() if r.plugin == info.name],
                    error=info.error or registry.errors.get(info.name))
            for info in plugin_infos()]
