"""Start-up: commands that need no model import no Keras backend, and TensorFlow's
start-up lines stay off stderr."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import zoo

from .conftest import TESTS, ZOO

BACKENDS = ("tensorflow", "jax", "torch")
# What TensorFlow's C++ side writes to fd 2 as it starts (TF 2.21).
TF_START_UP = ("absl::InitializeLog", "oneDNN custom operations", "cudart_stub", "cpu_feature_guard",
               "failed call to cuInit")


def python(*args, env=None, check=True):
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600,
                            env={**os.environ, **(env or {})})
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["plugins"], ["plugins", "--json"],
                                  ["datasets"], ["heads"], ["list"], ["list", "efficientnet*", "--json"],
                                  ["info", "--help"]])
def test_commands_without_models_import_no_backend(args):
    """Nor keras-hub: its cards are listed from their data (#22)."""
    result = python("-X", "importtime", "-m", "zoo", *args)
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "zoo.cli" in imported  # importtime did report
    # keras too: zoo imports it with fd 2 held back, so TensorFlow's own importtime lines never show.
    heavy = sorted(name for name in imported if name.split(".")[0] in (*BACKENDS, "keras", "keras_hub", "safetensors"))
    assert heavy == []


def start_up_lines(stderr):
    return [line for line in stderr.splitlines() if any(marker in line for marker in TF_START_UP)]


@pytest.mark.slow  # fresh processes that import TensorFlow
def test_tensorflow_start_up_lines_stay_off_stderr_unless_zoo_debug():
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "ZOO_DEBUG": "1"}
    broken = TESTS / "plugins" / "broken_import.py"
    args = [str(ZOO), "--plugin", str(broken), "list", "vgg*", "--json"]
    debug = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert debug.returncode == 0, debug.stderr
    if not start_up_lines(debug.stderr):
        pytest.skip("this TensorFlow prints no start-up lines to hide")
    del env["ZOO_DEBUG"]
    quiet = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert quiet.returncode == 0, quiet.stderr
    assert start_up_lines(quiet.stderr) == []
    # zoo's own lines still get through.
    assert quiet.stderr.splitlines() == [f"warning: plugin '{broken}' skipped: RuntimeError: this plugin is "
                                         "broken on purpose"]
    failed = subprocess.run([str(ZOO), "layers", "vgg17"], capture_output=True, text=True, env=env, timeout=600)
    assert failed.returncode == 2 and failed.stderr.startswith("Error: unknown backbone 'vgg17'")
    assert start_up_lines(failed.stderr) == []


LOAD = """
import sys
{first}
import keras
model = keras.saving.load_model(sys.argv[1])
print(type(model.get_layer("preprocess")).__name__)
"""


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A small saved model holding zoo's Preprocess (a Keras mode: no registry needed) and GreyToRGB."""
    import keras

    from zoo.backbones.model import GreyToRGB, Preprocess

    image = keras.Input((8, 8, 1))
    x = Preprocess(mode="caffe", name="preprocess")(GreyToRGB(name="grey_to_rgb")(image))
    model = keras.Model(image, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    path = tmp_path_factory.mktemp("saved") / "model.keras"
    model.save(path)
    return path


@pytest.mark.slow  # fresh processes that import TensorFlow
@pytest.mark.parametrize("first", ["import zoo", "import keras; import zoo"])
def test_import_zoo_is_enough_to_load_a_saved_model(saved_model, first):
    result = python("-c", LOAD.format(first=first), str(saved_model))
    assert result.stdout.split() == ["Preprocess"]


def modules_importing_keras() -> list[str]:
    """zoo.backbones' modules that import Keras at their top. Importing one of them first fires
    zoo's Keras hook (zoo/__init__.py), which imports zoo.backbones.model and .blocks, while that
    module is half initialised; a module elsewhere is no part of what the hook imports."""
    import ast

    package = Path(zoo.__file__).parent
    found = []
    for path in sorted((package / "backbones").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.Import) and any(alias.name == "keras" for alias in node.names)
               for node in tree.body):
            found.append(".".join(path.relative_to(package.parent).with_suffix("").parts))
    return found


FIRST = """
import importlib, sys
importlib.import_module(sys.argv[1])
import keras
print(all(keras.saving.get_registered_object(f"zoo>{name}") for name in
          ("Preprocess", "GreyToRGB", "TokenPool", "FlatBackbone", "RopeBlock", "TokensOnly", "TrueShape")))
"""


@pytest.mark.slow  # a fresh process each, importing TensorFlow
@pytest.mark.parametrize("module", modules_importing_keras())
def test_any_module_that_imports_keras_can_be_imported_first(module):
    """Imported first, zoo.backbones.blocks once failed on its own Keras hook (model imported it
    half initialised); whichever module comes first, every zoo layer is registered after it."""
    result = python("-c", FIRST, module)
    assert result.stdout.split() == ["True"]


def test_check_backend_names_the_package_to_install(monkeypatch):
    from zoo import backend
    from zoo.errors import BadInput

    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.setitem(sys.modules, "jax", None)  # as if it were not installed: importing it fails
    with pytest.raises(BadInput, match=r"^KERAS_BACKEND is jax, but jax is not installed: pip install jax, "):
        backend.check_backend()
    monkeypatch.setenv("KERAS_BACKEND", "theano")
    with pytest.raises(BadInput, match="KERAS_BACKEND is 'theano', not a Keras backend zoo runs on"):
        backend.check_backend()
    monkeypatch.delenv("KERAS_BACKEND")
    monkeypatch.setenv("KERAS_HOME", str(TESTS))  # no keras.json there: Keras's default
    assert backend.check_backend() == "tensorflow"


@pytest.mark.slow  # a fresh process: Keras picks its backend once, at import
@pytest.mark.parametrize("name, message", [
    ("jax", "Error: KERAS_BACKEND is jax, but jax is not installed: pip install jax, or choose another backend "
            "(tensorflow, jax, torch)."),
    ("theano", "Error: KERAS_BACKEND is 'theano', not a Keras backend zoo runs on: use tensorflow, jax or torch."),
])
def test_a_backend_keras_cannot_load_is_one_line_before_any_folder_is_made(tmp_path, name, message):
    # The backend's package hidden for this process alone (jax may be installed where this runs).
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['jax'] = None\n")
    env = {**os.environ, "KERAS_BACKEND": name, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([str(ZOO), "compare", "vgg16", "--dataset", "synthetic", "--weights", "none"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert (result.returncode, result.stderr.strip()) == (2, message)
    assert not (tmp_path / "zoo-runs").exists(), "refused before the output folder is made"
