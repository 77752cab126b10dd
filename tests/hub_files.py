"""Write small keras-hub preset folders in the three formats ``Backbone.from_preset(DIR)`` reads offline.

keras-hub picks the loader from config.json: "registered_name" is its own format (config.json +
model.weights.h5), "model_type" a Hugging Face transformers folder, "architecture" a timm folder
(both with model.safetensors, tensors under the original key names in torch layouts). The
weights are random but deterministic from ``seed``, so two seeds give two different models.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def _folder(folder):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_json(path, obj):
    Path(path).write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def _save_safetensors(folder, tensors, metadata=None):
    from safetensors.numpy import save_file

    save_file(tensors, str(folder / "model.safetensors"), metadata=metadata or {"format": "pt"})


def _random_tensors(shapes, seed):
    """``{key: float32 array}`` for ``{key: (kind, shape)}``; kind "weight" (Linear or Conv2d,
    scaled by 1/sqrt(fan_in)), "bias", "gamma" (near 1), "beta", "embedding", "mean" or "var" (positive)."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for key, (kind, shape) in shapes.items():
        if kind == "count":
            tensors[key] = np.array(0, dtype=np.int64)  # BatchNorm's num_batches_tracked
            continue
        z = rng.standard_normal(shape)
        if kind == "weight":
            z = z / np.sqrt(np.prod(shape[1:]))  # torch layouts: fan_in is every axis but the first
        elif kind == "gamma":
            z = 1.0 + 0.1 * z
        elif kind in ("bias", "beta", "mean"):
            z = 0.1 * z
        elif kind == "embedding":
            z = 0.02 * z
        elif kind == "var":
            z = rng.uniform(0.5, 1.5, shape)
        tensors[key] = z.astype(np.float32)
    return tensors


# keras-hub's own format.

def write_keras_hub_preset(folder, backbone, image_converter=None):
    """``backbone.save_to_preset(folder)`` (config.json, model.weights.h5, metadata.json), and
    ``image_converter``'s image_converter.json when given."""
    folder = _folder(folder)
    backbone.save_to_preset(str(folder))
    if image_converter is not None:
        image_converter.save_to_preset(str(folder))
    return folder


# Hugging Face transformers: ViTForImageClassification, read by keras_hub/src/utils/transformers/convert_vit.py.

def _vit_shapes(image_size, patch_size, hidden, layers, mlp, classes):
    patches = (image_size // patch_size) ** 2
    shapes = {
        "vit.embeddings.cls_token": ("embedding", (1, 1, hidden)),
        "vit.embeddings.position_embeddings": ("embedding", (1, patches + 1, hidden)),
        "vit.embeddings.patch_embeddings.projection.weight": ("weight", (hidden, 3, patch_size, patch_size)),
        "vit.embeddings.patch_embeddings.projection.bias": ("bias", (hidden,)),
    }
    for i in range(layers):
        p = f"vit.encoder.layer.{i}"
        for name in ("attention.attention.query", "attention.attention.key", "attention.attention.value",
                     "attention.output.dense"):
            shapes[f"{p}.{name}.weight"] = ("weight", (hidden, hidden))
            shapes[f"{p}.{name}.bias"] = ("bias", (hidden,))
        shapes[f"{p}.intermediate.dense.weight"] = ("weight", (mlp, hidden))
        shapes[f"{p}.intermediate.dense.bias"] = ("bias", (mlp,))
        shapes[f"{p}.output.dense.weight"] = ("weight", (hidden, mlp))
        shapes[f"{p}.output.dense.bias"] = ("bias", (hidden,))
        for norm in ("layernorm_before", "layernorm_after"):
            shapes[f"{p}.{norm}.weight"] = ("gamma", (hidden,))
            shapes[f"{p}.{norm}.bias"] = ("beta", (hidden,))
    shapes["vit.layernorm.weight"] = ("gamma", (hidden,))
    shapes["vit.layernorm.bias"] = ("beta", (hidden,))
    shapes["classifier.weight"] = ("weight", (classes, hidden))
    shapes["classifier.bias"] = ("bias", (classes,))
    return shapes


def write_hf_vit(folder, *, image_size=32, patch_size=8, hidden=16, layers=2, heads=2, mlp=32, classes=10,
                 seed=0, preprocessor_config=False):
    """A transformers ViTForImageClassification folder: config.json and model.safetensors (keys
    "vit.…" and "classifier.…", as HF saves them). ``preprocessor_config``: also write the
    preprocessor_config.json that real HF ViT folders carry (keras-hub does not read it)."""
    folder = _folder(folder)
    _write_json(folder / "config.json", {
        "architectures": ["ViTForImageClassification"], "model_type": "vit",
        "image_size": image_size, "patch_size": patch_size, "num_channels": 3,
        "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "intermediate_size": mlp, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
        "qkv_bias": True, "encoder_stride": patch_size, "torch_dtype": "float32",
        "id2label": {str(i): f"class_{i}" for i in range(classes)},
        "label2id": {f"class_{i}": i for i in range(classes)},
        "transformers_version": "4.40.0"})
    if preprocessor_config:
        _write_json(folder / "preprocessor_config.json", {
            "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
            "image_processor_type": "ViTImageProcessor", "image_std": [0.5, 0.5, 0.5], "resample": 2,
            "rescale_factor": 1 / 255, "size": {"height": image_size, "width": image_size}})
    _save_safetensors(folder, _random_tensors(_vit_shapes(image_size, patch_size, hidden, layers, mlp, classes), seed))
    return folder


# timm: resnet18, read by keras_hub/src/utils/timm/convert_resnet.py (the smallest ResNet it knows).

def _batch_norm(shapes, prefix, channels):
    for name, kind in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "mean"), ("running_var", "var")):
        shapes[f"{prefix}.{name}"] = (kind, (channels,))
    shapes[f"{prefix}.num_batches_tracked"] = ("count", ())


def _resnet18_shapes(classes):
    shapes = {"conv1.weight": ("weight", (64, 3, 7, 7))}
    _batch_norm(shapes, "bn1", 64)
    channels = 64
    for stage, filters in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            p = f"layer{stage}.{block}"
            in_channels = channels if block == 0 else filters
            shapes[f"{p}.conv1.weight"] = ("weight", (filters, in_channels, 3, 3))
            _batch_norm(shapes, f"{p}.bn1", filters)
            shapes[f"{p}.conv2.weight"] = ("weight", (filters, filters, 3, 3))
            _batch_norm(shapes, f"{p}.bn2", filters)
            if block == 0 and stage > 1:
                shapes[f"{p}.downsample.0.weight"] = ("weight", (filters, in_channels, 1, 1))
                _batch_norm(shapes, f"{p}.downsample.1", filters)
        channels = filters
    shapes["fc.weight"] = ("weight", (classes, 512))
    shapes["fc.bias"] = ("bias", (classes,))
    return shapes


def write_timm_resnet(folder, *, classes=1000, input_size=224, mean=IMAGENET_MEAN, std=IMAGENET_STD, seed=0):
    """A timm resnet18 folder: config.json ("architecture" and "pretrained_cfg", as timm's
    push_to_hf_hub writes them) and model.safetensors (11.7M float32 parameters, 47 MB)."""
    folder = _folder(folder)
    _write_json(folder / "config.json", {
        "architecture": "resnet18", "num_classes": classes, "num_features": 512, "global_pool": "avg",
        "pretrained_cfg": {
            "tag": "a1_in1k", "custom_load": False, "input_size": [3, input_size, input_size],
            "fixed_input_size": False, "interpolation": "bicubic", "crop_pct": 0.95, "crop_mode": "center",
            "mean": list(mean), "std": list(std), "num_classes": classes, "pool_size": [7, 7],
            "first_conv": "conv1", "classifier": "fc"}})
    _save_safetensors(folder, _random_tensors(_resnet18_shapes(classes), seed))
    return folder
