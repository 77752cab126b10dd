"""A throwaway plugin with tiny keras-hub transformers (random weights, a few thousand
parameters), so the tests of hub cards train and rank in seconds."""

import zoo
from zoo.backbones.hub import register_all

CONFIGS = {
    # A ViT with 4 blocks of width 16 on 32x32 images in 8x8 patches: 16 patches and a CLS token.
    "tiny_vit": dict(cls="ViTBackbone", arguments=dict(patch_size=8, num_layers=4, num_heads=2, hidden_dim=16,
                                                       mlp_dim=32),
                     default_input_size=32, min_input_size=8, size_multiple=8, weights_size=32, output="tokens",
                     prefix_tokens=1, pooling="cls", preprocess="tf", freeze_layer="transformer_block_4",
                     params=12_304, gmacs={32: 0.0}),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, preset="tiny_vit_has_no_preset")
