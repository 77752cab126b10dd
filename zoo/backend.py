"""Everything that depends on which Keras backend runs, in one small guarded place.

The rest of zoo uses only the Keras 3 API. Here, and only here, zoo imports
TensorFlow, JAX or PyTorch directly, and only when that backend is the one running.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import platform
import sys
from contextlib import contextmanager

from .errors import BadInput

# TensorFlow prints start-up banners on import; keep the CLI's output readable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextmanager
def quiet_stderr():
    """Send file descriptor 2 to /dev/null for a while, unless ``ZOO_DEBUG`` is set.

    TensorFlow's C++ start-up lines (absl, oneDNN, cudart, cuInit) are written straight
    to fd 2, and TF_CPP_MIN_LOG_LEVEL no longer silences them all."""
    saved = None
    if not os.environ.get("ZOO_DEBUG"):
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):  # no usable fd 2: nothing to quiet
            pass
    if saved is None:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


# The Keras backends zoo trains on, and the package each needs.
PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def chosen_backend() -> tuple[str, str]:
    """The backend Keras will load, and where that was said: ``KERAS_BACKEND``, else keras.json's
    ``backend`` (in ``KERAS_HOME``, default ~/.keras), else Keras's default, TensorFlow."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"], "KERAS_BACKEND"
    config = os.path.join(os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras"), "keras.json")
    try:
        with open(config) as f:
            return json.load(f)["backend"], f"{config}'s backend"
    except (OSError, ValueError, KeyError, TypeError):
        return "tensorflow", "Keras's default backend"


def installed(package: str) -> bool:
    """Whether ``package`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(package) is not None
    except ValueError:  # sys.modules holds None for it: importing it fails
        return False


def check_backend() -> str:
    """The chosen Keras backend, when zoo can use it; BadInput naming the fix otherwise (an
    unknown name, or a backend whose package is not installed). The commands that build models
    call it before they import Keras, whose own error would be a traceback."""
    name, where = chosen_backend()
    if name not in PACKAGES:
        raise BadInput(f"{where} is {name!r}, not a Keras backend zoo runs on: use tensorflow, jax or torch.")
    if not installed(PACKAGES[name]):
        raise BadInput(f"{where} is {name}, but {PACKAGES[name]} is not installed: pip install {PACKAGES[name]}, "
                       "or choose another backend (tensorflow, jax, torch).")
    return name


class _QuietImport:
    """A finder that runs the first import of keras or tensorflow, and TensorFlow's first look at
    its devices (where cuInit logs), under ``quiet_stderr``. Whoever imports keras first, zoo or a
    plugin, goes through here; nothing else about the import changes."""

    def __init__(self):
        self.pending = {"keras", "tensorflow"}

    def find_spec(self, name, path=None, target=None):
        if name not in self.pending:
            return None
        self.pending.discard(name)  # also makes the find_spec below skip this finder
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def quietly(module):
            with quiet_stderr():
                exec_module(module)
                if "tensorflow" in sys.modules:  # keras on another backend leaves TensorFlow alone
                    sys.modules["tensorflow"].config.list_physical_devices()
                    if not os.environ.get("ZOO_DEBUG"):
                        # "N out of the last M calls ... triggered tf.function retracing": each backbone
                        # is a new model to trace, as it should be; the advice is not for zoo's users.
                        logging.getLogger("tensorflow").setLevel(logging.ERROR)

        spec.loader.exec_module = quietly
        return spec


def quiet_keras_import() -> None:
    """Install ``_QuietImport`` (once) ahead of the other finders, if keras is not imported yet."""
    if "keras" not in sys.modules and not any(isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


def backend_name() -> str:
    import keras

    return keras.backend.backend()


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def accelerator_name() -> str | None:
    """The first GPU's model as the running backend sees it, or None on CPU."""
    backend = backend_name()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
        elif backend == "jax":
            import jax

            device = jax.devices()[0]
            if device.platform != "cpu":
                return device.device_kind
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return torch.cuda.get_device_name(0)
    except Exception:  # naming the device must never stop a run
        return None
    return None


def device_name() -> str:
    """The device computations run on: the GPU model, else the CPU model with its core count."""
    return accelerator_name() or f"{cpu_name()} ({os.cpu_count()} cores)"


def environment() -> dict:
    """Where a trial ran, for its row: the device, the Keras backend and Keras's version."""
    import keras

    return {"device": device_name(), "backend": backend_name(), "keras_version": keras.__version__}


def peak_device_memory_mb() -> float | None:
    """Peak accelerator memory in MB where the backend reports it, else None."""
    backend = backend_name()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
        elif backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            if "peak_bytes_in_use" in stats:
                return stats["peak_bytes_in_use"] / 2**20
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return torch.cuda.max_memory_allocated() / 2**20
    except Exception:
        return None
    return None


def reset_peak_device_memory() -> None:
    """Start a new peak for ``peak_device_memory_mb`` where the backend can (TensorFlow, PyTorch).

    JAX keeps one peak for the life of the process.
    """
    backend = backend_name()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                tf.config.experimental.reset_memory_stats("GPU:0")
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
    except Exception:  # measuring memory must never stop a run
        pass


def _split_cpu_for_tensorflow() -> None:
    """``ZOO_LOGICAL_CPUS=N``: show TensorFlow N logical CPU devices, to try data parallelism
    without accelerators (JAX's equivalent is XLA_FLAGS=--xla_force_host_platform_device_count=N).
    Must run before TensorFlow first touches its devices."""
    count = int(os.environ.get("ZOO_LOGICAL_CPUS", "0") or 0)
    if count > 1:
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        if len(tf.config.get_logical_device_configuration(cpu) or []) != count:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def _pick(devices, wanted, kind: str):
    count = len(devices) if wanted == "all" else int(wanted)
    if count > len(devices):
        raise BadInput(f"--devices {wanted}: this machine shows {len(devices)} {kind} device(s) to "
                       f"{backend_name()}; ask for at most {len(devices)}.")
    return devices[:count]


@contextmanager
def data_parallel(wanted):
    """Data-parallel training over ``wanted`` devices (a count or ``"all"``) of this machine, by the
    backend's own mechanism: ``tf.distribute.MirroredStrategy`` on TensorFlow,
    ``keras.distribution.DataParallel`` on JAX. Accelerators when there are any, else CPUs.
    Yields the number of devices; with ``None`` or 1, nothing changes."""
    if wanted in (None, 1, "1"):
        yield 1
        return
    backend = backend_name()
    if backend == "tensorflow":
        import tensorflow as tf

        _split_cpu_for_tensorflow()
        pool = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        devices = _pick(pool, wanted, pool[0].device_type)
        with tf.distribute.MirroredStrategy([d.name for d in devices]).scope():
            yield len(devices)
    elif backend == "jax":
        import jax
        import keras

        pool = [d for d in jax.devices() if d.platform != "cpu"] or jax.devices("cpu")
        devices = _pick(pool, wanted, pool[0].platform)
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        try:
            yield len(devices)
        finally:
            keras.distribution.set_distribution(previous)
    else:
        raise BadInput(f"--devices needs the TensorFlow or JAX backend (KERAS_BACKEND={backend} "
                       "trains on one device); leave --devices out.")
