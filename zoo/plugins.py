"""Finding and loading plugins: the ``zoo`` entry-point group, ``--plugin`` and ``ZOO_PLUGINS``.

Built-in backbones are plugins in the same entry-point group as third-party
ones; ``ZOO_DISABLE_PLUGIN_AUTOLOAD=1`` skips every distribution but zoo itself.
A plugin that fails to load (by any exception, ``sys.exit`` included, or by implementing a hook
zoo does not know) is recorded with its reason instead of stopping zoo.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pluggy

from . import hookspecs
from .errors import one_line

ENTRY_POINT_GROUP = "zoo"
BUILTIN_DISTRIBUTION = "zoo"

pm = pluggy.PluginManager("zoo")
pm.add_hookspecs(hookspecs)


class PluginWarning(UserWarning):
    """A plugin was skipped, or one of its backbones was."""


@dataclass
class PluginInfo:
    """What ``zoo plugins`` shows about one plugin."""

    name: str
    distribution: str | None = None
    version: str | None = None
    error: str | None = None  # why it is broken, or (status "partial") which cards were rejected
    status: str = "ok"  # "ok", "partial" (some cards rejected) or "broken"
    backbones: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)


# Plugins zoo tried to load, by name: those that loaded and those that broke.
_tried: dict[str, PluginInfo] = {}
_entry_points_loaded = False


def warn(message: str) -> None:
    warnings.warn(message, PluginWarning, stacklevel=2)


def load_plugins(extra: tuple[str, ...] | list[str] = ()) -> None:
    """Load entry-point plugins (once), then ``ZOO_PLUGINS`` and ``extra`` modules or files."""
    global _entry_points_loaded
    if not _entry_points_loaded:
        _entry_points_loaded = True
        _load_entry_points()
    from_env = [s.strip() for s in os.environ.get("ZOO_PLUGINS", "").split(",") if s.strip()]
    for spec in [*from_env, *extra]:
        spec = os.path.expanduser(spec)  # ~/p.py and its expansion are one plugin, loaded once
        if spec not in _tried:
            _load(PluginInfo(spec), lambda spec=spec: import_plugin(spec))


def _load_entry_points() -> None:
    autoload = os.environ.get("ZOO_DISABLE_PLUGIN_AUTOLOAD", "").lower() in ("", "0", "false", "no")
    # A distribution's name and version, read once: each read parses its whole METADATA file, and
    # zoo alone has 26 entry points (the entry points of one distribution share its object).
    named: dict[int, tuple] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if id(ep.dist) not in named:
            named[id(ep.dist)] = (ep.dist.name, ep.dist.version) if ep.dist else (None, None)
        dist, version = named[id(ep.dist)]
        if not autoload and dist != BUILTIN_DISTRIBUTION:
            continue
        _load(PluginInfo(ep.name, dist, version), ep.load)


def import_plugin(spec: str):
    """Import a plugin given as a ``.py`` file path (``~`` expanded) or a dotted module name."""
    path = Path(spec).expanduser()
    if spec.endswith(".py") or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"no such plugin file: {spec}")
        module_name = f"zoo_local_plugin_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
        return module
    return importlib.import_module(spec)


def _load(info: PluginInfo, load) -> None:
    _tried[info.name] = info
    try:
        plugin = load()
        pm.register(plugin, name=info.name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a broken plugin, even one calling sys.exit, must never brick the CLI
        info.error = one_line(exc)
        warn(f"plugin {info.name!r} skipped: {info.error}")
        return
    _reject_unknown_hooks()


def _reject_unknown_hooks() -> None:
    """Unregister every plugin with a hook zoo does not know: a misspelled hook would do nothing."""
    while True:
        try:
            pm.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin)
            unknown = [repr(caller.name) for caller in pm.get_hookcallers(exc.plugin) if not caller.has_spec()]
            pm.unregister(exc.plugin)
            info = _tried.setdefault(name, PluginInfo(name))
            info.error = f"unknown hook {', '.join(unknown)}; zoo's hooks are {', '.join(hook_names())}"
            warn(f"plugin {name!r} skipped: {info.error}")


def hook_names() -> list[str]:
    """The hooks zoo calls, by name."""
    return sorted(name for name, caller in vars(pm.hook).items()
                  if not name.startswith("_") and caller.has_spec())


def provider(plugin: str) -> str:
    """Who provides a plugin, as the CLI names it: its distribution if installed, else its own name."""
    info = _tried.get(plugin)
    return (info and info.distribution) or plugin


def plugin_infos() -> list[PluginInfo]:
    """Every plugin zoo knows: loaded ones (however registered) and broken ones."""
    infos = dict(_tried)
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin)
        infos.setdefault(name, PluginInfo(name))
    return list(infos.values())
