"""Everything that depends on which Keras backend runs, in one small guarded place.

The rest of zoo uses only the Keras 3 API. Here, and only here, zoo imports
TensorFlow, JAX or PyTorch directly, and only when that backend is the one running.
"""

from __future__ import annotations

import os
import platform

# TensorFlow prints start-up banners on import; keep the CLI's output readable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
