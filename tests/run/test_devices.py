"""Data-parallel training inside a trial (--devices), checked on logical CPU devices."""

import importlib.util

import pytest

from ..conftest import TESTS, json_out

GRID_PLUGIN = TESTS / "plugins" / "grid.py"
# No dropout: each replica would draw its own masks, and the runs could not match.
COMMON = ["--plugin", GRID_PLUGIN, "compare", "grid-a", "--dataset", "synthetic", "--limit", "200", "--epochs", "2",
          "--weights", "none", "--dropout", "0", "--json"]


# Each needs a fresh process: the backend, and TensorFlow's logical devices, are set before it starts.
pytestmark = pytest.mark.slow


def check_same_training(run_zoo, tmp_path, env):
    one = json_out(run_zoo(*COMMON, "--batch-size", "32", "--output", tmp_path / "one", env=env, check=0))[0]
    two = json_out(run_zoo(*COMMON, "--batch-size", "16", "--devices", "2", "--output", tmp_path / "two",
                           env=env, check=0))[0]
    # Same global batch (16 per device x 2), so the same steps: the same model up to rounding.
    assert (one["devices"], two["devices"]) == (1, 2)
    # --batch-size is per device: the global batch is batch_size x devices.
    assert one["batch_size"] * one["devices"] == two["batch_size"] * two["devices"] == 32
    assert two["test_loss"] == pytest.approx(one["test_loss"], rel=1e-3)
    assert two["test_accuracy"] == pytest.approx(one["test_accuracy"], abs=0.011)
    assert two["best_val_accuracy"] == pytest.approx(one["best_val_accuracy"], abs=0.026)


def test_tensorflow_mirrored_strategy_on_two_logical_cpus(run_zoo_process, tmp_path):
    check_same_training(run_zoo_process, tmp_path, {"ZOO_LOGICAL_CPUS": "2", "KERAS_BACKEND": "tensorflow"})


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_jax_data_parallel_on_two_cpu_devices(run_zoo_process, tmp_path):
    check_same_training(run_zoo_process, tmp_path, {"KERAS_BACKEND": "jax",
                                            "XLA_FLAGS": "--xla_force_host_platform_device_count=2"})


def test_more_devices_than_there_are_is_one_line(run_zoo_process, tmp_path):
    result = run_zoo_process(*COMMON, "--devices", "3", "--output", tmp_path, env={"ZOO_LOGICAL_CPUS": "2"}, check=2)
    assert "--devices 3: this machine shows 2 CPU device(s) to tensorflow; ask for at most 2." in result.stderr
