"""What users and plugins hold on to keeps working: a model saved by an earlier zoo loads and
predicts as it did.
"""

from pathlib import Path

import numpy as np
import pytest

import zoo  # noqa: F401  (registers zoo's Keras layers: all a saved model needs)

DATA = Path(__file__).parent / "data"


def test_a_model_saved_before_zoo_had_packages_loads_and_predicts_as_it_did():
    """``saved_before_packages.keras`` was saved by zoo at e94039e, when its layers lived in the
    flat ``zoo/model.py`` and ``zoo/blocks.py``: Preprocess, GreyToRGB, TokenPool and three
    keras-hub backbones flattened by block (RopeBlock, TokensOnly, TrueShape, FlatBackbone).
    Keras finds them by their registered names (``zoo>Preprocess``), whatever module holds them."""
    keras = pytest.importorskip("keras")
    pytest.importorskip("keras_hub")
    model = keras.saving.load_model(DATA / "saved_before_packages.keras")
    names = {type(layer).__name__ for layer in model.layers}
    assert {"GreyToRGB", "Preprocess", "TokenPool", "FlatBackbone"} <= names
    inner = {type(layer).__name__ for flat in model.layers if type(flat).__name__ == "FlatBackbone"
             for layer in flat.layers}
    assert {"RopeBlock", "TokensOnly", "TrueShape"} <= inner
    images = np.random.default_rng(1).uniform(0, 255, (2, 16, 16, 1)).astype("float32")
    expected = np.load(DATA / "saved_before_packages.npy")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images)), expected, rtol=1e-5, atol=1e-6)
