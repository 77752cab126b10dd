"""DINOv2 (Oquab et al., 2023), with and without registers (Darcet et al., 2024), through keras-hub:
one config per backbone (zoo/backbones/hub.py), checked by tests/backbones/test_hub_catalogue.py. Self-supervised:
the published figure is a linear probe of the frozen features at 224 px. The position embeddings
are interpolated to any size, so the presets load at the trial's size; ImageNet mean and std."""

import zoo
from zoo.backbones.hub import register_all
from zoo.core.card import Published


def dinov2(*, hidden: int, heads: int, layers: int, registers: bool) -> dict:
    return dict(patch_size=14, num_layers=layers, hidden_dim=hidden, num_heads=heads, intermediate_dim=4 * hidden,
                layer_scale_init_value=1.0, num_register_tokens=4 if registers else 0, use_mask_token=True,
                use_swiglu_ffn=False, dropout_rate=0.0, drop_path_rate=0.0, position_embedding_shape=(518, 518),
                antialias_in_interpolation=registers, apply_layernorm=False)


def probe(top1: float) -> Published:
    return Published("facebookresearch/dinov2 README, ImageNet linear probe (Oquab et al. 2023, Table 4)", top1=top1,
                     top1_protocol="linear probe")


# The parameters at 224 px: keras-hub keeps the 37x37 table (518 px) and an interpolated copy.
CONFIGS = {
    "dinov2_s": dict(arguments=dinov2(hidden=384, heads=6, layers=12, registers=False), preset="dinov2_small",
                     params=22_155_264, gmacs={224: 6.124}, published=probe(0.811)),
    "dinov2_b": dict(arguments=dinov2(hidden=768, heads=12, layers=12, registers=False), preset="dinov2_base",
                     params=86_777_856, gmacs={224: 23.161}, published=probe(0.845)),
    "dinov2_l": dict(arguments=dinov2(hidden=1024, heads=16, layers=24, registers=False), preset="dinov2_large",
                     freeze_layer="layers_18", params=304_631_808, gmacs={224: 81.012}, published=probe(0.863)),
    "dinov2_reg_s": dict(arguments=dinov2(hidden=384, heads=6, layers=12, registers=True),
                         preset="dinov2_with_registers_small", prefix_tokens=5, params=22_156_800, gmacs={224: 6.228},
                         published=probe(0.809)),
    "dinov2_reg_b": dict(arguments=dinov2(hidden=768, heads=12, layers=12, registers=True),
                         preset="dinov2_with_registers_base", prefix_tokens=5, params=86_780_928, gmacs={224: 23.539},
                         published=probe(0.846)),
    "dinov2_reg_l": dict(arguments=dinov2(hidden=1024, heads=16, layers=24, registers=True),
                         preset="dinov2_with_registers_large", prefix_tokens=5, freeze_layer="layers_18",
                         params=304_635_904, gmacs={224: 82.322}, published=probe(0.867)),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, cls="DINOV2Backbone", default_input_size=224, min_input_size=14, size_multiple=14,
                 output="tokens", prefix_tokens=1, pooling="cls", preprocess="torch", freeze_layer="layers_9",
                 reference="https://arxiv.org/abs/2304.07193")
