"""CLIP's image encoders (Radford et al., 2021) through keras-hub: one config per backbone
(zoo/backbones/hub.py), checked by tests/backbones/test_hub_catalogue.py. The vision tower of keras-hub's CLIP presets;
the published figure is the linear probe of the paper's Table 10; CLIP's own mean and std."""

import zoo
from zoo.backbones.hub import register_all
from zoo.core.card import Published


def clip(patch: int) -> dict:
    return dict(patch_size=patch, hidden_dim=768, num_layers=12, num_heads=12, intermediate_dim=3072,
                intermediate_activation="quick_gelu")


def probe(top1: float) -> Published:
    return Published("Radford et al. 2021, Table 10, ImageNet linear probe", top1=top1, top1_protocol="linear probe")


CONFIGS = {
    "clip_b16": dict(arguments=clip(16), preset="clip_vit_base_patch16", min_input_size=16, size_multiple=16,
                     params=85_799_621, gmacs={224: 17.563}, published=probe(0.802)),
    "clip_b32": dict(arguments=clip(32), preset="clip_vit_base_patch32", min_input_size=32, size_multiple=32,
                     params=87_456_050, gmacs={224: 4.408}, published=probe(0.761)),
}


@zoo.hookimpl
def register_backbones(register):
    # keras-hub keeps CLIP's presets at 224 whatever image_shape asks: the weights load there alone.
    register_all(register, CONFIGS, cls="CLIPVisionEncoder", part="vision_encoder", default_input_size=224,
                 weights_size=224, output="tokens", prefix_tokens=1, pooling="cls", preprocess="clip",
                 freeze_layer="encoder_block_9", reference="https://arxiv.org/abs/2103.00020")
