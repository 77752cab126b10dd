"""zoo.backbones.cost on keras-hub's vision transformers, as zoo.backbones.blocks rebuilds them (a top-level layer per
block): tiny builds against a count by hand, the real sizes against timm's published GMACs.
The Keras Applications CNNs' counts are checked in tests/backbones/test_catalogue.py."""

import keras
import pytest

from zoo.backbones.blocks import flatten_blocks
from zoo.backbones.cost import gmacs, macs


@pytest.fixture(scope="module")
def hub():
    return pytest.importorskip("keras_hub").models


# 32 px images in 8 px patches: 16 patches, 2 blocks of width 8, 2 heads, MLP width 16.
TINY = dict(image_shape=(32, 32, 3), patch_size=8, num_layers=2, num_heads=2, hidden_dim=8)


def vit_by_hand(tokens, patches=16, patch=8, width=8, mlp=16, depth=2):
    """The patch convolution (each patch times its kernel), then in every block the query, key,
    value and output projections and the two MLP layers on every token, and the two attention
    matmuls (queries by keys, attention by values: tokens x tokens x width each)."""
    embedding = patches * (patch * patch * 3) * width
    block = tokens * (4 * width * width + 2 * width * mlp) + 2 * tokens * tokens * width
    return embedding + depth * block


# SigLIP's head: one learnt probe attends to the tokens; keys and values are projected from every
# token, the query and output projections and the MLP run on the probe alone.
SIGLIP_HEAD = 16 * 2 * 8 * 8 + 2 * 8 * 8 + 2 * 16 * 8 + 2 * 8 * 16


@pytest.mark.parametrize("backbone, extra, expected", [
    ("ViTBackbone", {"mlp_dim": 16}, vit_by_hand(tokens=17)),  # the patches and a class token
    ("DeiTBackbone", {"intermediate_dim": 16}, vit_by_hand(tokens=18)),  # and a distillation token
    ("DINOV2Backbone", {"intermediate_dim": 16, "position_embedding_shape": (32, 32)}, vit_by_hand(tokens=17)),
    ("DINOV3Backbone", {"intermediate_dim": 16}, vit_by_hand(tokens=21)),  # 4 register tokens; RoPE is free
    ("CLIPVisionEncoder", {"intermediate_dim": 16}, vit_by_hand(tokens=17)),
    # SigLIP has no class token (keras-hub 0.32 declares one; zoo.backbones.blocks gives the true shape).
    ("SigLIPVisionEncoder", {"intermediate_dim": 16}, vit_by_hand(tokens=16) + SIGLIP_HEAD),
])
def test_tiny_transformers_count_as_by_hand(hub, backbone, extra, expected):
    model = flatten_blocks(getattr(hub, backbone)(**TINY, **extra))
    assert macs(model) == expected > 0


def swin_block_by_hand(grid, width, window=5):
    """Window attention runs on the grid padded to whole windows: the query-key-value and output
    projections on every padded token, each attending to the window's tokens; the MLP (4x wide)
    on the grid's tokens."""
    padded = (-(-grid // window) * window) ** 2
    return padded * 4 * width * width + 2 * padded * window * window * width + grid * grid * 8 * width * width


def test_tiny_swin_counts_as_by_hand(hub):
    """48 px in 4 px patches: a 12x12 grid of width 8 (padded to 15x15 for 5x5 windows), patch
    merging to 6x6 of width 16 (padded to 10x10)."""
    model = flatten_blocks(hub.SwinTransformerBackbone(
        image_shape=(48, 48, 3), embed_dim=8, depths=[2, 2], num_heads=[2, 4], window_size=5, patch_size=4))
    embedding = 12 * 12 * (4 * 4 * 3) * 8
    merging = 6 * 6 * (4 * 8) * 16  # a dense layer on a quarter of the tokens, each 2x2 concatenated
    expected = embedding + 2 * swin_block_by_hand(12, 8) + merging + 2 * swin_block_by_hand(6, 16)
    assert macs(model) == expected == 1_028_640


class TokenMixer(keras.layers.Layer):
    """Mixes the tokens with a weight of its own, beside a dense layer the count can see."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(4)

    def build(self, shape):
        self.mix = self.add_weight(shape=(shape[1], shape[1]))
        self.dense.build(shape)

    def call(self, x):
        return self.dense(keras.ops.einsum("nm,bmd->bnd", self.mix, x))


class PlainAttention(keras.layers.Layer):
    """Attention from one dense projection, its matmuls in its call, out of the count's sight."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.qkv = keras.layers.Dense(12)

    def call(self, x):
        q, k, v = keras.ops.split(self.qkv(x), 3, axis=-1)
        return keras.ops.matmul(keras.ops.softmax(keras.ops.matmul(q, keras.ops.swapaxes(k, 1, 2))), v)


@pytest.mark.parametrize("layer", [TokenMixer, PlainAttention])
def test_a_block_with_costs_the_count_cannot_see_is_refused(layer):
    tokens = keras.Input((5, 4))
    with pytest.raises(ValueError, match="does not know how to count"):
        macs(keras.Model(tokens, layer()(tokens)))


# The real sizes, against timm's model cards (fvcore's count: attention matmuls included), at
# the size timm gives; each builds in one to five seconds.
@pytest.mark.slow
@pytest.mark.parametrize("backbone, config, published, tolerance", [
    ("ViTBackbone", dict(image_shape=(224, 224, 3), patch_size=16, num_layers=12, num_heads=12, hidden_dim=768,
                         mlp_dim=3072), 17.6, dict(rel=0.03)),  # vit_base_patch16_224
    ("ViTBackbone", dict(image_shape=(224, 224, 3), patch_size=16, num_layers=12, num_heads=6, hidden_dim=384,
                         mlp_dim=1536), 4.6, dict(rel=0.03)),  # vit_small_patch16_224 (DeiT-S in the DeiT paper)
    # vit_small_patch14_dinov2.lvd142m, at the 518 px its card gives.
    ("DINOV2Backbone", dict(patch_size=14, num_layers=12, hidden_dim=384, num_heads=6, intermediate_dim=1536,
                            layer_scale_init_value=1.0, position_embedding_shape=(518, 518), image_shape=(518, 518, 3)),
     46.8, dict(rel=0.03)),
    ("SwinTransformerBackbone", dict(image_shape=(224, 224, 3), embed_dim=96, depths=[2, 2, 6, 2],
                                     num_heads=[3, 6, 12, 24], window_size=7, patch_size=4),
     4.5, dict(rel=0.03)),  # swin_tiny_patch4_window7_224
    # deit_tiny_patch16_224's 1.3 is rounded to a tenth: it is 1.26 (keras-hub's DeiT also carries
    # the distillation token, 198 tokens to timm's 197, +0.5%).
    ("DeiTBackbone", dict(image_shape=(224, 224, 3), patch_size=16, num_layers=12, num_heads=3, hidden_dim=192,
                          intermediate_dim=768), 1.3, dict(abs=0.05)),
])
def test_transformers_agree_with_timm(hub, backbone, config, published, tolerance):
    keras.utils.clear_session()
    assert gmacs(flatten_blocks(getattr(hub, backbone)(**config))) == pytest.approx(published, **tolerance)
