"""DINOv3 (Simeoni et al., 2025) through keras-hub: one config per backbone (zoo/backbones/hub.py), checked
by tests/backbones/test_hub_catalogue.py. Self-supervised (distilled ViT-S/16 and B/16, LVD-1689M), rotary
position embeddings: any multiple of 16 px. The paper gives ImageNet-ReaL linear probes alone,
not the ImageNet-1k validation figure the other cards give, so the top-1 is left blank."""

import zoo
from zoo.backbones.hub import register_all


def dinov3(*, hidden: int, heads: int) -> dict:
    return dict(patch_size=16, num_layers=12, hidden_dim=hidden, num_heads=heads, intermediate_dim=4 * hidden,
                layer_scale_init_value=1.0, num_register_tokens=4, use_mask_token=True, hidden_activation="gelu",
                use_gated_mlp=False, use_query_bias=True, use_key_bias=False, use_value_bias=True,
                use_proj_bias=True, use_mlp_bias=True, attention_dropout=0.0, drop_path_rate=0.0,
                layer_norm_eps=1e-5, rope_theta=100.0, apply_layernorm=False)


CONFIGS = {
    "dinov3_s": dict(arguments=dinov3(hidden=384, heads=6), preset="dinov3_vit_small_lvd1689m", params=21_596_544,
                     gmacs={224: 4.698}),
    "dinov3_b": dict(arguments=dinov3(hidden=768, heads=12), preset="dinov3_vit_base_lvd1689m", params=85_660_416,
                     gmacs={224: 17.932}),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, cls="DINOV3Backbone", default_input_size=224, min_input_size=16, size_multiple=16,
                 output="tokens", prefix_tokens=5, pooling="cls", preprocess="torch", freeze_layer="layers_9",
                 reference="https://arxiv.org/abs/2508.10104")
