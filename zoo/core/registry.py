"""What the plugins registered: backbones, datasets and heads, and how to look them up.

Each kind has its hook (``register_backbones``, ``register_datasets``,
``register_heads``) and its card (``Backbone``, ``Dataset``, ``Head``); they are
collected the same way, so a broken or clashing plugin is handled the same way.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, replace

from ..errors import BadInput, one_line
from ..plugins import load_plugins, plugin_infos, pm, warn
from .card import Backbone, Dataset, Head

# kind -> (hook name, card class, where users see the known ones)
KINDS = {
    "backbone": ("register_backbones", Backbone, "`zoo list`"),
    "dataset": ("register_datasets", Dataset, "`zoo datasets`"),
    "head": ("register_heads", Head, "`zoo heads`"),
}


@dataclass(frozen=True)
class Registration:
    card: object
    plugin: str


@dataclass
class _Registry:
    cards: dict[str, dict[str, Registration]]  # kind -> name -> registration
    errors: dict[str, str]  # plugin name -> why it is broken
    rejected: dict[str, list[str]]  # plugin name -> why each of its rejected cards was


_cache: tuple[tuple, _Registry] | None = None


def _collect_kind(kind: str, errors: dict[str, str], rejected: dict[str, list[str]]) -> dict[str, Registration]:
    hook_name, card_class, _ = KINDS[kind]
    found: dict[str, Registration] = {}
    # get_hookimpls() is in registration order: earlier plugins (built-ins first) win a name.
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        plugin = impl.plugin_name

        def register(card, plugin=plugin):
            if not isinstance(card, card_class):
                reason = f"register() takes a zoo.{card_class.__name__}, not {type(card).__name__}"
                warn(f"plugin {plugin!r}: {reason}")
            elif problems := card.problems():
                reason = f"invalid {kind} card {card.name!r}: {'; '.join(problems)}"
                warn(f"plugin {plugin!r} skipped {kind}: {reason}")
            elif card.name in found:
                first = found[card.name].plugin
                reason = f"{kind} {card.name!r} rejected: plugin {first!r} already registered that name"
                warn(f"{kind} {card.name!r} from plugin {plugin!r} rejected: "
                     f"plugin {first!r} already registered that name")
            else:
                found[card.name] = Registration(card, plugin)
                return
            rejected.setdefault(plugin, []).append(reason)

        try:
            impl.function(register=register)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a broken plugin, even one calling sys.exit, must never brick the CLI
            errors[plugin] = f"{hook_name} raised {one_line(exc)}"
            warn(f"plugin {plugin!r} skipped: {errors[plugin]}")
            for name in [n for n, r in found.items() if r.plugin == plugin]:
                del found[name]
    return dict(sorted(found.items()))


def _registry() -> _Registry:
    """The registry, recomputed only when the set of registered plugins changed."""
    global _cache
    load_plugins()
    # The plugin objects themselves, not their id(): a new plugin may reuse a freed one's id,
    # and the key holds them alive so that cannot happen while it is cached.
    key = tuple((pm.get_name(p), p) for p in pm.get_plugins())
    if _cache is None or _cache[0] != key:
        errors: dict[str, str] = {}
        rejected: dict[str, list[str]] = {}
        cards = {kind: _collect_kind(kind, errors, rejected) for kind in KINDS}
        _cache = (key, _Registry(cards, errors, rejected))
    return _cache[1]


def registrations(kind: str = "backbone") -> dict[str, Registration]:
    """Every registered card of ``kind`` by name, sorted, with the plugin that registered it."""
    return _registry().cards[kind]


def _names(kind: str, pattern: str) -> list[str]:
    return [name for name in registrations(kind) if fnmatch.fnmatchcase(name, pattern.lower())]


def _get(kind: str, name: str):
    known = registrations(kind)
    if name in known:
        return known[name].card
    close = difflib.get_close_matches(name.lower(), known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise BadInput(f"unknown {kind} {name!r}.{hint} Known {kind}s: {', '.join(known) or 'none'}"
                   f" (see {KINDS[kind][2]}, or install a plugin that registers it).")


def list_backbones(pattern: str = "*") -> list[str]:
    """Names of the registered backbones matching an fnmatch ``pattern``, sorted."""
    return _names("backbone", pattern)


def get_backbone(name: str) -> Backbone:
    """The card registered under ``name``; an unknown name lists the known ones."""
    return _get("backbone", name)


def list_datasets(pattern: str = "*") -> list[str]:
    """Names of the registered datasets matching an fnmatch ``pattern``, sorted."""
    return _names("dataset", pattern)


def get_dataset(name: str) -> Dataset:
    """The dataset card registered under ``name``; an unknown name lists the known ones."""
    return _get("dataset", name)


def list_heads(pattern: str = "*") -> list[str]:
    """Names of the registered heads matching an fnmatch ``pattern``, sorted."""
    return _names("head", pattern)


def get_head(name: str) -> Head:
    """The head card registered under ``name``; an unknown name lists the known ones."""
    return _get("head", name)


def plugin_report(failures: dict[str, str] | None = None):
    """``plugin_infos()`` with what each plugin registered, its status and its errors filled in;
    ``failures`` (plugin -> why) marks more plugins broken (zoo.backbones.listing.check_plugins builds
    each backbone to find them)."""
    registry = _registry()
    failures = failures or {}

    def of(kind, plugin):
        return [n for n, r in registry.cards[kind].items() if r.plugin == plugin]

    report = []
    for info in plugin_infos():
        broken = info.error or registry.errors.get(info.name) or failures.get(info.name)
        rejected = "; ".join(registry.rejected.get(info.name, []))
        report.append(replace(info, backbones=of("backbone", info.name), datasets=of("dataset", info.name),
                              heads=of("head", info.name), error=broken or rejected or None,
                              status="broken" if broken else "partial" if rejected else "ok"))
    return report
