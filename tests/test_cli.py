"""The `zoo` commands list, layers, plugins, datasets and heads, plugin loading and exit codes (in process,
but for the installed script and entry-point discovery)."""

import json
import subprocess
import sys

import pytest

from zoo.backbones.catalogue import builtin_names

from .conftest import TESTS, TINY_PLUGIN, json_out

EXAMPLE = TESTS.parent / "examples" / "zoo-mobilenetv2"
pytestmark = pytest.mark.shared_store  # no test here looks at the feature store

BUILTINS = builtin_names()  # the 40 of keras.applications and the keras-hub cards


def test_list_json_shows_every_card(run_zoo):
    rows = json_out(run_zoo("list", "--json", check=0))
    by_name = {row["name"]: row for row in rows}
    assert [row["name"] for row in rows] == sorted(by_name)
    assert set(BUILTINS) <= set(by_name)
    assert by_name["resnet50"] == {
        "name": "resnet50", "plugin": "zoo", "min_input_size": 32, "default_input_size": 224,
        "freeze_layer": "conv5_block1_1_conv", "pooling": "avg", "preprocess": "caffe", "params": 23_587_712,
        "gmacs": 3.856, "imagenet_top1": 0.749, "imagenet_top1_protocol": "fine-tuned", "imagenet_top5": 0.921,
        "size_multiple": 1, "needs": None, "description": by_name["resnet50"]["description"]}
    assert by_name["vgg16"]["freeze_layer"] is None


def test_list_table_and_pattern(run_zoo):
    result = run_zoo("list", "vgg*", check=0)
    assert "vgg16" in result.stdout and "14,714,688" in result.stdout
    assert "resnet50" not in result.stdout


def test_layers_shows_where_conv5_starts(run_zoo):
    rows = json_out(run_zoo("layers", "resnet50", "--json", check=0))
    assert len(rows) == 175
    assert set(rows[0]) == {"index", "name", "type", "output_shape", "params", "trainable"}
    assert rows[143]["name"] == "conv5_block1_1_conv" and rows[143]["trainable"]
    assert rows[143]["type"] == "Conv2D" and rows[143]["params"] == 1024 * 512 + 512
    assert not any(row["trainable"] for row in rows[:143])
    assert all(row["trainable"] for row in rows[143:])
    assert rows[142]["output_shape"] == "(None, 2, 2, 1024)"


def test_layers_table_at_another_size(run_zoo):
    result = run_zoo("layers", "vgg16", "--input-size", "64", check=0)
    assert "block5_pool" in result.stdout and "(None, 2, 2, 512)" in result.stdout


def test_unknown_backbone_is_one_line_and_exit_2(run_zoo):
    result = run_zoo("layers", "resnet5", check=2)
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and error[0].startswith("Error: unknown backbone 'resnet5'. Did you mean 'resnet50'? "
                                                   "Known backbones: clip_b16, clip_b32, convnextbase, ")
    assert error[0].endswith(", xception (see `zoo list`, or install a plugin that registers it).")
    assert "Traceback" not in result.stderr


def test_bad_usage_exits_2(run_zoo):
    assert run_zoo("layers").returncode == 2
    assert run_zoo("no-such-command").returncode == 2


def test_the_installed_script_runs(run_zoo_process):
    assert run_zoo_process("--version", check=0).stdout.startswith("zoo, version ")
    assert run_zoo_process("no-such-command").returncode == 2


def test_plugin_option_and_env_variable_load_a_local_file(run_zoo):
    rows = json_out(run_zoo("--plugin", TINY_PLUGIN, "list", "--json", check=0))
    tiny = next(row for row in rows if row["name"] == "tiny")
    assert tiny["plugin"] == str(TINY_PLUGIN) and tiny["freeze_layer"] == "conv3"
    rows = json_out(run_zoo("list", "t*", "--json", env={"ZOO_PLUGINS": str(TINY_PLUGIN)}, check=0))
    assert [row["name"] for row in rows] == ["tiny"]


def test_a_broken_plugin_is_skipped_and_reported(run_zoo):
    broken = TESTS / "plugins" / "broken_import.py"
    result = run_zoo("--plugin", broken, "plugins", "--json", check=0)
    rows = {row["name"]: row for row in json_out(result)}
    assert rows[str(broken)]["status"] == "broken"
    assert rows[str(broken)]["error"] == "RuntimeError: this plugin is broken on purpose"
    assert rows["vgg"] == {"name": "vgg", "distribution": "zoo", "version": rows["vgg"]["version"],
                           "backbones": ["vgg16", "vgg19"], "datasets": [], "heads": [], "status": "ok", "error": None}
    assert rows["cifar"]["datasets"] == ["cifar10", "cifar100"] and rows["heads"]["heads"] == ["bn", "dense", "linear"]
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warning == [f"warning: plugin '{broken}' skipped: RuntimeError: this plugin is broken on purpose"]
    # The rest of the CLI still works with the broken plugin given.
    names = [row["name"] for row in json_out(run_zoo("--plugin", broken, "list", "--json", check=0))]
    assert names == BUILTINS
    result = run_zoo("--plugin", "no_such_module_zz", "plugins", check=0)
    assert "broken: ModuleNotFoundError" in result.stdout


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory):
    """The example plugin package, pip-installed into a folder that goes on PYTHONPATH."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(EXAMPLE)], check=True, capture_output=True)
    return target


@pytest.mark.slow
def test_an_installed_distribution_is_discovered_through_its_entry_point(run_zoo_process, installed_example):
    run_zoo = run_zoo_process  # entry points are read once per process: a fresh one sees the new package
    env = {"PYTHONPATH": str(installed_example)}
    plugins = {row["name"]: row for row in json_out(run_zoo("plugins", "--json", env=env, check=0))}
    example = plugins["mobilenetv2-050"]
    assert (example["distribution"], example["version"], example["backbones"]) == \
        ("zoo-mobilenetv2", "0.1.0", ["mobilenetv2-050"])
    rows = {r["name"]: r for r in json_out(run_zoo("list", "mobilenetv2*", "--json", env=env, check=0))}
    assert (rows["mobilenetv2"]["plugin"], rows["mobilenetv2-050"]["plugin"]) == ("zoo", "zoo-mobilenetv2")
    assert rows["mobilenetv2-050"]["params"] is None, "its card gives no figures: blanks"
    info = json_out(run_zoo("info", "mobilenetv2-050", "--json", env=env, check=0))
    assert info["freeze_index"] == 143 and info["params_at_size"] == 706_224
    # Autoload off: third-party distributions are skipped, the built-ins still load.
    rows = json_out(run_zoo("list", "--json", env={**env, "ZOO_DISABLE_PLUGIN_AUTOLOAD": "1"}, check=0))
    assert [row["name"] for row in rows] == BUILTINS


def warnings_in(result):
    return [line for line in result.stderr.splitlines() if line.startswith("warning:")]


def test_a_plugin_calling_sys_exit_is_broken_not_fatal(run_zoo):
    exits = TESTS / "plugins" / "exits_on_import.py"
    for args, env in (((("--plugin", exits)), None), ((), {"ZOO_PLUGINS": str(exits)})):
        result = run_zoo(*args, "plugins", "--json", env=env, check=0)
        rows = {row["name"]: row for row in json_out(result)}
        assert rows[str(exits)]["status"] == "broken" and rows[str(exits)]["error"] == "SystemExit: 3"
        assert warnings_in(result) == [f"warning: plugin '{exits}' skipped: SystemExit: 3"]
        assert rows["vgg"]["status"] == "ok"


def test_a_misspelled_hook_breaks_its_plugin_naming_the_known_hooks(run_zoo):
    plugin = TESTS / "plugins" / "misspelled_hook.py"
    result = run_zoo("--plugin", plugin, "plugins", "--json", check=0)
    row = {row["name"]: row for row in json_out(result)}[str(plugin)]
    reason = ("unknown hook 'register_backbone'; zoo's hooks are register_backbones, register_datasets, "
              "register_heads")
    assert row["status"] == "broken" and row["error"] == reason
    assert warnings_in(result) == [f"warning: plugin '{plugin}' skipped: {reason}"]
    # Its other hooks are not used either.
    heads = [row["name"] for row in json_out(run_zoo("--plugin", plugin, "heads", "--json", check=0))]
    assert heads == ["bn", "dense", "linear"]


@pytest.mark.slow  # --check builds all 40 built-in backbones too
def test_plugins_check_builds_each_backbone(run_zoo):
    plugin = TESTS / "plugins" / "unbuildable.py"
    rows = {row["name"]: row for row in json_out(run_zoo("--plugin", plugin, "plugins", "--json", check=0))}
    assert rows[str(plugin)]["status"] == "ok"  # without --check nothing is built
    result = run_zoo("--plugin", plugin, "--plugin", TINY_PLUGIN, "plugins", "--check", "--json", check=0)
    rows = {row["name"]: row for row in json_out(result)}
    reason = "backbone 'zz-unbuildable' could not be built: RuntimeError: no layers here"
    assert rows[str(plugin)]["status"] == "broken" and rows[str(plugin)]["error"] == reason
    assert rows[str(plugin)]["backbones"] == ["zz-unbuildable"]
    assert all(row["status"] == "ok" for name, row in rows.items() if name != str(plugin))
    assert warnings_in(result) == [f"warning: plugin '{plugin}': {reason}"]
    table = run_zoo("--plugin", plugin, "plugins", "--check", check=0).stdout
    assert "broken: backbone 'zz-unbuildable' could not be built" in table


def test_datasets_and_heads_name_the_plugin_as_list_does(run_zoo):
    datasets = {row["name"]: row for row in json_out(run_zoo("datasets", "--json", check=0))}
    assert datasets["synthetic"]["download"] is False and datasets["synthetic"]["generated"] is True
    assert datasets["cifar10"]["download"] is True and datasets["cifar10"]["generated"] is False
    assert {row["plugin"] for row in datasets.values()} == {"zoo"}
    row = next(line for line in run_zoo("datasets", check=0).stdout.splitlines() if "│ synthetic" in line)
    assert row.split("│")[5].strip() == "generated"
    assert {row["plugin"] for row in json_out(run_zoo("heads", "--json", check=0))} == {"zoo"}


def test_a_path_with_a_tilde_is_expanded_wherever_zoo_takes_one(run_zoo, tmp_path, monkeypatch):
    """A shell leaves ``~`` alone in ``--opt=~/x`` and in quotes: zoo expands it itself, once, and
    uses the expanded path (#20: a checked path was dropped and the raw one used later)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    (home / "tiny_plugin.py").write_text(TINY_PLUGIN.read_text())
    run_zoo("--plugin", "~/tiny_plugin.py", "bench", "tiny", "--steps", "1", "--warmup", "0", "--mode", "infer",
            "--output", "~/rows.json", check=0)
    assert [row["backbone"] for row in json.loads((home / "rows.json").read_text())] == ["tiny"]
    assert not (tmp_path / "~").exists(), "nothing written under a folder named ~"
