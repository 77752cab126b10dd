import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

import zoo

TESTS = Path(__file__).parent
TINY_PLUGIN = TESTS / "plugins" / "tiny.py"
ZOO = Path(sys.executable).with_name("zoo")  # the installed console script


@pytest.fixture
def run_zoo():
    """Run the real ``zoo`` entry point; returns the CompletedProcess (text mode)."""

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
