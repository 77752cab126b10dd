"""What users and plugins hold on to keeps working (#30): a model saved by an earlier zoo loads
and predicts as it did, every name and path the docs give is there, and a plugin written for
zoo's flat modules still imports.
"""

import importlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zoo  # noqa: F401  (registers zoo's Keras layers: all a saved model needs)

SAVED = Path(__file__).parent / "saved"


def test_a_model_saved_before_zoo_had_packages_loads_and_predicts_as_it_did():
    """``saved_before_packages.keras`` was saved by zoo at e94039e, when its layers lived in the
    flat ``zoo/backbones/model.py`` and ``zoo/backbones/blocks.py``: Preprocess, GreyToRGB, TokenPool and three
    keras-hub backbones flattened by block (RopeBlock, TokensOnly, TrueShape, FlatBackbone).
    Keras finds them by their registered names (``zoo>Preprocess``), whatever module holds them."""
    keras = pytest.importorskip("keras")
    pytest.importorskip("keras_hub")
    model = keras.saving.load_model(SAVED / "saved_before_packages.keras")
    names = {type(layer).__name__ for layer in model.layers}
    assert {"GreyToRGB", "Preprocess", "TokenPool", "FlatBackbone"} <= names
    inner = {type(layer).__name__ for flat in model.layers if type(flat).__name__ == "FlatBackbone"
             for layer in flat.layers}
    assert {"RopeBlock", "TokensOnly", "TrueShape"} <= inner
    images = np.random.default_rng(1).uniform(0, 255, (2, 16, 16, 1)).astype("float32")
    expected = np.load(SAVED / "saved_before_packages.npy")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images)), expected, rtol=1e-5, atol=1e-6)


# -- Every name and path the docs give exists ----------------------------------------------------

ROOT = Path(__file__).parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# zoo.NAME as Python spells it: not inside a path or a file name (.zoo.lock), nor an MLflow tag (zoo.kind=rank).
NAME = re.compile(r"(?<![\w./-])zoo\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?![\w=])")
PATH = re.compile(r"(?<![\w./~-])((?:zoo|tests|plugins|scripts|benchmarks|docs|examples)/[\w./-]*[\w/])")
NOT_PYTHON = {"zoo.kind"}  # the MLflow tag zoo.tracking sets: a name in MLflow, not in Python


def names_in(paths) -> list[str]:
    return sorted({f"zoo.{match}" for path in paths for match in NAME.findall(path.read_text(encoding="utf-8"))}
                  - NOT_PYTHON)


def resolve(dotted: str):
    """The object ``dotted`` names: its longest importable prefix, then attributes."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        for attribute in parts[end:]:
            found = getattr(found, attribute)  # AttributeError: the docs name what is not there
        return found
    raise ImportError(dotted)


@pytest.mark.parametrize("name", names_in(DOCS))
def test_every_name_the_docs_give_is_there(name):
    """``zoo.scores.logme``, ``zoo.pm.register``, ``zoo.core.recipe.Recipe``... as the README and
    docs/ spell them, after ``import zoo`` alone. (``zoo.scores`` was not there before #30.)"""
    resolve(name)


@pytest.mark.parametrize("name", names_in(sorted((ROOT / "zoo").rglob("*.py"))))
def test_every_name_zoo_s_own_docstrings_give_is_there(name):
    """The code's cross-references (``(zoo.core.card.POOLINGS_FOR)``) point at what exists."""
    resolve(name)


def test_every_path_the_docs_give_is_there():
    named = {match.rstrip(".") for path in DOCS for match in PATH.findall(path.read_text(encoding="utf-8"))}
    assert named, "the pattern finds the docs' paths"
    assert sorted(path for path in named if not (ROOT / path).exists()) == []


def test_the_public_names_are_there():
    assert {"compare", "rank", "bench", "Backbone", "Dataset", "Head", "ImageData", "ImageFiles", "hookimpl",
            "scores", "BadInput", "ZooError", "pm", "list_backbones", "get_backbone"} <= set(zoo.__all__)
    for name in zoo.__all__:
        assert getattr(zoo, name) is not None


# What the built-in plugins imported from zoo's flat modules at e94039e, before zoo had packages:
# a third-party plugin written then imports the same.
FLAT = {"zoo.card": ["Backbone", "Dataset", "Head", "Published"], "zoo.catalogue": ["register_all"],
        "zoo.hub": ["register_all"], "zoo.datasets": ["ImageData", "as_labels", "as_pixels"],
        "zoo.sources": ["ImageFiles", "Scanned", "fingerprint", "median_size", "scan", "scan_one"],
        "zoo.decode": ["EXTENSIONS", "is_ignored_folder", "is_image_name"], "zoo.records": [],
        "zoo.checks": ["keras_home"], "zoo.errors": ["BadInput", "download_reason", "one_line"]}


def test_a_plugin_written_before_the_packages_still_imports():
    """In a fresh process, as a plugin's module is imported: its first line may be
    ``from zoo.catalogue import register_all``. The flat name is the package's module itself."""
    lines = [f"from {module} import {', '.join(names)}" if names else f"import {module}"
             for module, names in FLAT.items()]
    check = ["import zoo", "from zoo.data import sources", "assert zoo.sources is sources",
             "assert zoo.card.Backbone is zoo.Backbone", "print('ok')"]
    result = subprocess.run([sys.executable, "-c", "\n".join(lines + check)], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.split() == ["ok"], result.stderr


def test_the_python_api_s_names_need_only_import_zoo():
    """The README's Python API section writes ``import zoo`` and then ``zoo.scores.logme(...)``:
    each name it gives is an attribute chain from ``zoo`` alone, in a fresh process (before #30,
    ``zoo.scores`` was there only once something else had imported it)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Python API"):text.index("\n## ", text.index("## Python API") + 1)]
    names = sorted({f"zoo.{match}" for match in NAME.findall(section)})
    assert "zoo.scores.logme" in names
    script = "import zoo\n" + "\n".join(f"assert {name} is not None, {name!r}" for name in names) + "\nprint('ok')"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["ok"], result.stderr
