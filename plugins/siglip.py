"""SigLIP's image encoder (Zhai et al., 2023) through keras-hub: one config per backbone
(zoo/backbones/hub.py), checked by tests/backbones/test_hub_catalogue.py. Its attention-pooling head already gives one
vector per image (pooling "none"). No ImageNet linear probe is published for it: top-1 left blank."""

import zoo
from zoo.backbones.hub import register_all

CONFIGS = {
    "siglip_b16": dict(arguments=dict(patch_size=16, hidden_dim=768, num_layers=12, num_heads=12, intermediate_dim=3072,
                                      intermediate_activation="gelu_approximate", layer_norm_epsilon=1e-6),
                       preset="siglip_base_patch16_224", params=92_884_420, gmacs={224: 17.708}),
}


@zoo.hookimpl
def register_backbones(register):
    # Like CLIP's, keras-hub keeps SigLIP's preset at 224 whatever image_shape asks.
    register_all(register, CONFIGS, cls="SigLIPVisionEncoder", part="vision_encoder", default_input_size=224,
                 min_input_size=16, size_multiple=16, weights_size=224, output="vector", pooling="none",
                 preprocess="tf", freeze_layer="encoder_block_9", reference="https://arxiv.org/abs/2303.15343")
