"""VGG (Simonyan & Zisserman, 2014) from ``keras.applications``: one config per backbone, measured by
``scripts/catalogue.py`` and checked by tests/backbones/test_catalogue.py (see zoo/backbones/catalogue.py)."""

import zoo
from zoo.backbones.catalogue import register_all

# The classic CIFAR-10 recipe flattens VGG16's last feature map; the rule freezes the whole backbone.
CONFIGS = {
    "vgg16": dict(min_input_size=32, freeze_layer=None, params=14_714_688,
                  gmacs={32: 0.313, 224: 15.347}),
    "vgg19": dict(min_input_size=32, freeze_layer=None, params=20_024_384,
                  gmacs={32: 0.398, 224: 19.508}),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, pooling="flatten", reference="https://arxiv.org/abs/1409.1556")
