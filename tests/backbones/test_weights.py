"""--weights PATH: a file that is not a Keras weights file for the backbone is one line (exit code 2)."""

import keras
import pytest
from click.testing import CliRunner

from zoo.backbones.checks import check_weights_file
from zoo.backbones.model import build_backbone
from zoo.core.registry import get_backbone
from zoo.errors import BadInput

from ..conftest import TINY_PLUGIN, registered


@pytest.fixture(scope="module")
def tiny():
    from zoo.plugins import import_plugin

    with registered(import_plugin(str(TINY_PLUGIN)), "tiny-weights-test"):
        yield get_backbone("tiny")


def bad_weights(tmp_path, kind):
    """A path that is not a weights file tiny can load: garbage .h5, text, folder, another architecture."""
    if kind == "garbage":
        (path := tmp_path / "garbage.weights.h5").write_bytes(b"not an HDF5 file")
    elif kind == "text":
        (path := tmp_path / "notes.txt").write_text("weights: yes\n")
    elif kind == "folder":
        (path := tmp_path / "checkpoints").mkdir()
    else:  # saved by model.save_weights, from another model
        other = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(5, 3, name="conv1"),
                                  keras.layers.Dense(3, name="dense")])
        other.save_weights(path := tmp_path / "other.weights.h5")
    return path


def one_line_error(info) -> str:
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("kind", ["garbage", "text", "folder", "other architecture"])
def test_a_bad_weights_file_is_named_with_the_backbone(tiny, tmp_path, kind):
    path = bad_weights(tmp_path, kind)
    with pytest.raises(BadInput) as info:
        build_backbone(tiny, 16, str(path))
    message = one_line_error(info)
    assert str(path) in message and "tiny" in message
    assert "saved from tiny by `model.save_weights(...)` (.weights.h5, or a legacy .h5)" in message


@pytest.mark.parametrize("kind", ["garbage", "text", "folder"])
def test_check_weights_file_refuses_before_any_building(tmp_path, kind):
    path = bad_weights(tmp_path, kind)
    with pytest.raises(BadInput) as info:
        check_weights_file(str(path))
    assert str(path) in one_line_error(info)


def test_good_weights_files_pass(tiny, tmp_path):
    model = build_backbone(tiny, 16, None)
    model.save_weights(tmp_path / "tiny.weights.h5")
    model.save(tmp_path / "tiny.keras")  # Keras's load_weights reads a whole .keras model's weights too
    for name in ("tiny.weights.h5", "tiny.keras"):
        assert check_weights_file(str(tmp_path / name)) == str(tmp_path / name)
        build_backbone(tiny, 16, str(tmp_path / name))
    assert check_weights_file(None) is None and check_weights_file("imagenet") == "imagenet"
    (tmp_path / "fake.keras").write_bytes(b"not a zip")
    with pytest.raises(BadInput, match="fake.keras"):
        check_weights_file(str(tmp_path / "fake.keras"))


def test_mismatched_weights_keep_keras_warnings_from_the_user(tiny, tmp_path, recwarn):
    path = bad_weights(tmp_path, "other architecture")
    recwarn.clear()
    with pytest.raises(BadInput):
        build_backbone(tiny, 16, str(path))
    assert not [str(w.message) for w in recwarn]


# CLI, end to end through `zoo compare` (which is being rewritten: if this alone fails, look there).
# tiny is registered by the fixture, not by --plugin, which would leave it registered for later tests.
@pytest.mark.parametrize("kind", ["garbage", "other architecture"])
def test_compare_with_bad_weights_exits_2_with_one_line(tiny, tmp_path, kind):
    from zoo.cli import cli  # imported here: the unit tests above do not need the CLI

    path = bad_weights(tmp_path, kind)
    result = CliRunner().invoke(cli, ["compare", "tiny", "--dataset", "synthetic",
                                      "--limit", "40", "--epochs", "1", "--weights", str(path),
                                      "--output", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if str(path) in line]
    assert len(lines) == 1 and "tiny" in lines[0], result.stderr
    assert "warning" not in result.stderr.lower(), result.stderr


def test_a_weights_path_with_a_tilde_is_expanded_in_the_recipe(tmp_path, monkeypatch):
    from zoo.core.recipe import recipe_from

    monkeypatch.setenv("HOME", str(tmp_path))
    assert recipe_from({"weights": "~/tiny.weights.h5"}).weights == str(tmp_path / "tiny.weights.h5")


@pytest.mark.slow  # two trials; quick, the test above checks the recipe holds the expanded path
def test_a_weights_path_with_a_tilde_is_expanded_once_and_read_with_the_store(tiny, tmp_path, monkeypatch):
    """``weights="~/tiny.weights.h5"``: the plan checked the expanded path and then dropped it, so the
    feature store's key stat'ed the raw ``~`` path and the trial failed (FileNotFoundError)."""
    import zoo

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    build_backbone(tiny, 16, None).save_weights(home / "tiny.weights.h5")
    frame = zoo.compare(["tiny"], "synthetic", weights="~/tiny.weights.h5", limit=40, epochs=1, progress=False)
    [row] = frame.to_dict("records")
    assert row["status"] == "ok", row["error"]
    assert row["weights"] == str(home / "tiny.weights.h5") and row["feature_store"] == "miss"
    again = zoo.compare(["tiny"], "synthetic", weights=str(home / "tiny.weights.h5"), limit=40, epochs=1,
                        progress=False)
    assert again["feature_store"].tolist() == ["hit"], "the same file, the same features"
