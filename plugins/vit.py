"""ViT (Dosovitskiy et al., 2021) through keras-hub: one config per backbone, built offline from
its arguments (zoo/backbones/hub.py) and checked by tests/backbones/test_hub_catalogue.py. Supervised: ImageNet-21k
pretraining, fine-tuned on ImageNet-1k at 224 px; 0.5/0.5 preprocessing ("tf")."""

import zoo
from zoo.backbones.hub import register_all
from zoo.core.card import Published


def vit(*, hidden: int, heads: int, layers: int) -> dict:
    return dict(patch_size=16, num_layers=layers, num_heads=heads, hidden_dim=hidden, mlp_dim=4 * hidden,
                dropout_rate=0.0, attention_dropout=0.0, use_mha_bias=True)


TIMM = "timm's evaluation of the same weights (pytorch-image-models results-imagenet.csv)"

CONFIGS = {
    # keras-hub has no ViT-S preset (timm's augreg weights have no keras-hub converter): the
    # architecture of timm's vit_small_patch16_224, for --weights none or a Hugging Face folder.
    "vit_s16": dict(arguments=vit(hidden=384, heads=6, layers=12), preset=None, freeze_layer="transformer_block_10",
                    params=21_665_664, gmacs={224: 4.598},
                    published=Published(f"Steiner et al. 2021 (AugReg, ImageNet-21k then 1k); {TIMM}", top1=0.814)),
    "vit_b16": dict(arguments=vit(hidden=768, heads=12, layers=12), preset="vit_base_patch16_224_imagenet",
                    freeze_layer="transformer_block_10", params=85_798_656, gmacs={224: 17.563},
                    published=Published(f"google/vit-base-patch16-224 (ImageNet-21k then 1k); {TIMM}", top1=0.8178)),
    # No published top-1 for these weights at 224 that we could check: left blank.
    "vit_l16": dict(arguments=vit(hidden=1024, heads=16, layers=24), preset="vit_large_patch16_224_imagenet",
                    freeze_layer="transformer_block_19", params=303_301_632, gmacs={224: 61.554}),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, cls="ViTBackbone", default_input_size=224, min_input_size=16, size_multiple=16,
                 weights_size=224, output="tokens", prefix_tokens=1, pooling="cls", preprocess="tf",
                 reference="https://arxiv.org/abs/2010.11929")
