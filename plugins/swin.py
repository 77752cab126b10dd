"""Swin Transformer (Liu et al., 2021) through keras-hub: one config per backbone (zoo/backbones/hub.py),
checked by tests/backbones/test_hub_catalogue.py. Window 7 on a 4x4 patch grid: the input is a multiple of
32 px from 224 up (the last stage's 7x7 windows); no CLS token, so the patch tokens are averaged."""

import zoo
from zoo.backbones.hub import register_all
from zoo.core.card import Published

# No stochastic depth (drop_path, 0.1 in training): Keras runs a frozen block's drop-path in training
# mode too, so the frozen blocks would differ from their cached features, which are computed as at
# inference. The presets are loaded with it off as well (OVERRIDES).
OVERRIDES = dict(drop_path=0.0)


def swin(*, embed: int, depths: tuple, heads: tuple) -> dict:
    return dict(patch_size=4, embed_dim=embed, depths=depths, num_heads=heads, window_size=7, mlp_ratio=4.0,
                qkv_bias=True, dropout_rate=0.0, attention_dropout=0.0, patch_norm=True, **OVERRIDES)


def paper(top1: float) -> Published:
    return Published("Liu et al. 2021, Table 1(a), ImageNet-1k at 224 px", top1=top1)


CONFIGS = {
    "swin_t": dict(arguments=swin(embed=96, depths=(2, 2, 6, 2), heads=(3, 6, 12, 24)),
                   preset="swin_tiny_patch4_window7_224", freeze_layer="stage_2_block_5", params=27_519_354,
                   gmacs={224: 4.49}, published=paper(0.813)),
    "swin_s": dict(arguments=swin(embed=96, depths=(2, 2, 18, 2), heads=(3, 6, 12, 24)),
                   preset="swin_small_patch4_window7_224", freeze_layer="stage_2_block_14", params=48_837_258,
                   gmacs={224: 8.74}, published=paper(0.830)),
    # keras-hub's Swin-B preset may be the ImageNet-22k pretrained weights (85.2% in Table 1(b)).
    "swin_b": dict(arguments=swin(embed=128, depths=(2, 2, 18, 2), heads=(4, 8, 16, 32)),
                   preset="swin_base_patch4_window7_224", freeze_layer="stage_2_block_14", params=86_743_224,
                   gmacs={224: 15.43}, published=paper(0.835)),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, cls="SwinTransformerBackbone", default_input_size=224, min_input_size=224,
                 size_multiple=32, output="tokens", pooling="mean", preprocess="torch", overrides=OVERRIDES,
                 reference="https://arxiv.org/abs/2103.14030")
