"""NASNet (Zoph et al., 2017) from ``keras.applications``: one config per backbone, measured by
``scripts/catalogue.py`` and checked by tests/backbones/test_catalogue.py (see zoo/backbones/catalogue.py)."""

import zoo
from zoo.backbones.catalogue import register_all

# Every NASNet cell reads two tensors, so no freeze point inside hands one on: the rule freezes the whole backbone.
CONFIGS = {
    "nasnetmobile": dict(min_input_size=32, freeze_layer=None, params=4_269_716,
                         gmacs={32: 0.011, 224: 0.563}),
    "nasnetlarge": dict(min_input_size=32, freeze_layer=None, params=84_916_818,
                        gmacs={32: 0.21, 224: 10.28, 331: 23.779}),
}


@zoo.hookimpl
def register_backbones(register):
    register_all(register, CONFIGS, pooling="avg", reference="https://arxiv.org/abs/1707.07012")
