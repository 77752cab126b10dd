"""DeiT, distilled (Touvron et al., 2021) through keras-hub: one config per backbone (zoo/backbones/hub.py),
checked by tests/backbones/test_hub_catalogue.py. keras-hub ships the distilled models: a CLS and a
distillation token before the patches. Trained on ImageNet-1k at 224 px; ImageNet mean and std."""

import zoo
from zoo.backbones.hub import register_all
from zoo.core.card import Published


def deit(*, hidden: int, heads: int) -> dict:
    return dict(patch_size=16, num_layers=12, num_heads=heads, hidden_dim=hidden, intermediate_dim=4 * hidden,
                dropout_rate=0.0, attention_dropout=0.0, layer_norm_epsilon=1e-12)


SOURCE = "Touvron et al. 2021, the distilled models (timm's evaluation of the same weights agrees)"

CONFIGS = {
    "deit_ti": dict(arguments=deit(hidden=192, heads=3), preset="deit_tiny_distilled_patch16_224_imagenet",
                    params=5_524_800, gmacs={224: 1.261}, published=Published(SOURCE, top1=0.745)),
    "deit_s": dict(arguments=deit(hidden=384, heads=6), preset="deit_small_distilled_patch16_224_imagenet",
                   params=21_666_432, gmacs={224: 4.623}, published=Published(SOURCE, top1=0.812)),
    "deit_b": dict(arguments=deit(hidden=768, heads=12), preset="deit_base_distilled_patch16_224_imagenet",
                   params=85_800_192, gmacs={224: 17.655}, published=Published(SOURCE, top1=0.834)),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, cls="DeiTBackbone", default_input_size=224, min_input_size=16, size_multiple=16,
                 weights_size=224, output="tokens", prefix_tokens=2, pooling="cls", preprocess="torch",
                 freeze_layer="transformer_block_10", reference="https://arxiv.org/abs/2012.12877")
