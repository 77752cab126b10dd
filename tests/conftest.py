import json
import os
import subprocess
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

import zoo

TESTS = Path(__file__).parent
TINY_PLUGIN = TESTS / "plugins" / "tiny.py"
ZOO = Path(sys.executable).with_name("zoo")  # the installed console script


@dataclass
class Ran:
    """What a zoo command did, shaped like subprocess.CompletedProcess."""

    returncode: int
    stdout: str
    stderr: str


@contextmanager
def plugin_state():
    """Undo whatever a block does to zoo's plugins: plugins it loaded (``--plugin``,
    ``ZOO_PLUGINS``) are unregistered and forgotten after it, as llm's tests undo theirs."""
    from zoo import plugins

    plugins.load_plugins()  # the installed ones (built-ins first) stay: they load once per process
    before, tried, show = set(zoo.pm.get_plugins()), dict(plugins._tried), warnings.showwarning
    try:
        yield
    finally:
        for plugin in set(zoo.pm.get_plugins()) - before:
            zoo.pm.unregister(plugin)
        plugins._tried.clear()
        plugins._tried.update(tried)
        warnings.showwarning = show  # the CLI routes warnings through rich


@pytest.fixture(scope="module")
def tiny_backbone():
    """The tiny test backbone, registered for a module (``pytestmark = usefixtures("tiny_backbone")``)."""
    from zoo.plugins import import_plugin

    with registered(import_plugin(str(TINY_PLUGIN)), "tiny-test-plugin"):
        yield


def shared_store(tmp_path_factory) -> Path:
    """The feature store that tests marked ``shared_store`` (and the module fixtures they read) share."""
    root = tmp_path_factory.getbasetemp() / "zoo-cache-shared"
    root.mkdir(exist_ok=True)
    return root


@pytest.fixture(autouse=True)
def feature_store(request, tmp_path_factory, monkeypatch):
    """Each test its own feature store (``ZOO_CACHE``), so no test reads another's features and
    nothing is left in the user's cache. Tests marked ``shared_store``, which never look at the
    store, share one for the session: a tiny backbone's features are then computed once, as the
    store does for users. Step timings stay in memory for the session, as in one zoo process."""
    root = shared_store(tmp_path_factory) if request.node.get_closest_marker("shared_store") else \
        tmp_path_factory.mktemp("zoo-cache")
    monkeypatch.setenv("ZOO_CACHE", str(root))
    return root


def invoke_zoo(*args, env=None, check=None) -> Ran:
    """Run a ``zoo`` command in this process through click's CliRunner (``env`` set for its
    duration), with the plugin state restored after it; usable from a module's fixture too."""
    from click.testing import CliRunner

    from zoo.cli import cli

    with pytest.MonkeyPatch.context() as patch, plugin_state():
        for key, value in (env or {}).items():
            patch.setenv(key, value)
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    ran = Ran(result.exit_code, result.stdout, result.stderr)
    if check is not None:
        assert ran.returncode == check, (ran.returncode, ran.stdout, ran.stderr)
    return ran


@pytest.fixture
def run_zoo():
    """``invoke_zoo`` for a test. For what needs a fresh process (the installed script, entry
    points, signals, another backend) use ``run_zoo_process``."""
    return invoke_zoo


@pytest.fixture
def run_zoo_process():
    """Run the installed ``zoo`` script in a fresh process; returns the CompletedProcess (text mode)."""

    def run(*args, env=None, check=None, cwd=None):
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        result = subprocess.run([str(ZOO), *map(str, args)], capture_output=True, text=True,
                                env=full_env, cwd=cwd, timeout=600)
        if check is not None:
            assert result.returncode == check, (result.returncode, result.stdout, result.stderr)
        return result

    return run


def json_out(result):
    return json.loads(result.stdout)


@contextmanager
def registered(plugin, name):
    """Register a throwaway plugin for the duration of a block, always unregistering it."""
    zoo.pm.register(plugin, name=name)
    try:
        yield plugin
    finally:
        zoo.pm.unregister(name=name)
