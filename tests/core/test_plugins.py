"""The plugin API: registering, validating, listing and looking up backbones."""

import warnings

import keras
import pytest

import zoo
from zoo.core import registry
from zoo.plugins import PluginWarning

from ..conftest import registered


@pytest.fixture(autouse=True)
def builtins_first():
    """Load the built-in plugins before any throwaway one, as the CLI does: they win a shared name."""
    zoo.load_plugins()


def tiny_build(input_shape, weights):
    image = keras.Input(input_shape)
    return keras.Model(image, keras.layers.Conv2D(2, 3)(image))


def card(name="zz-card", **changes):
    fields = dict(name=name, build=tiny_build, preprocess=lambda x: x, min_input_size=8,
                  default_input_size=16, freeze_layer=None, pooling="avg")
    return zoo.Backbone(**{**fields, **changes})


class Registers:
    """A throwaway plugin registering the given cards."""

    def __init__(self, *cards):
        self.cards = cards

    @zoo.hookimpl
    def register_backbones(self, register):
        for c in self.cards:
            register(c)


def test_a_registered_backbone_is_listed_and_found_then_gone():
    with registered(Registers(card("zz-test-a"), card("zz-test-b")), "throwaway"):
        assert zoo.list_backbones("zz-test-*") == ["zz-test-a", "zz-test-b"]
        assert zoo.get_backbone("zz-test-b").min_input_size == 8
        assert registry.registrations()["zz-test-a"].plugin == "throwaway"
    assert zoo.list_backbones("zz-test-*") == []


def test_list_backbones_wildcards_are_sorted():
    assert zoo.list_backbones() == sorted(zoo.list_backbones())
    assert {"vgg16", "resnet50", "densenet121"} <= set(zoo.list_backbones())
    assert zoo.list_backbones("densenet*") == ["densenet121", "densenet169", "densenet201"]
    assert zoo.list_backbones("VGG*") == ["vgg16", "vgg19"]


def test_unknown_backbone_lists_known_ones_and_the_closest():
    with pytest.raises(zoo.BadInput) as info:
        zoo.get_backbone("resnet05")
    message = str(info.value)
    assert "'resnet05'" in message and "Did you mean 'resnet50'?" in message
    assert "densenet121, densenet169, densenet201, dinov2_b" in message
    assert "\n" not in message


@pytest.mark.parametrize("changes, reason", [
    ({"pooling": "mean"}, "pooling must be one of flatten, avg, max"),
    ({"min_input_size": 0}, "min_input_size must be an integer >= 1"),
    ({"name": "Bad Name"}, "name 'Bad Name' must be lower case"),
])
def test_an_invalid_card_is_skipped_with_a_warning(changes, reason):
    plugin = Registers(card("zz-valid"), card(**{"name": "zz-invalid", **changes}))
    with registered(plugin, "half-broken"):
        with pytest.warns(PluginWarning, match=reason):
            names = zoo.list_backbones("zz-*")
        assert names == ["zz-valid"]
        report = {p.name: p for p in registry.plugin_report()}
        assert reason in report["half-broken"].error


def test_a_raising_hook_breaks_only_its_plugin():
    class Raises:
        @zoo.hookimpl
        def register_backbones(self, register):
            register(card("zz-partial"))
            raise RuntimeError("boom")

    with registered(Raises(), "raises"):
        with pytest.warns(PluginWarning, match="'raises' skipped: register_backbones raised RuntimeError: boom"):
            names = zoo.list_backbones()
        assert "zz-partial" not in names and "vgg16" in names
        report = {p.name: p for p in registry.plugin_report()}
        assert report["raises"].error == "register_backbones raised RuntimeError: boom"
        assert report["vgg"].error is None


def test_a_duplicate_name_is_rejected_naming_both_plugins():
    with registered(Registers(card("vgg16", min_input_size=9)), "copycat"):
        with pytest.warns(PluginWarning) as caught:
            zoo.list_backbones()
        message = str(caught[0].message)
        assert "'copycat'" in message and "'vgg'" in message and "already registered" in message
        assert zoo.get_backbone("vgg16").min_input_size == 32
        assert registry.registrations()["vgg16"].plugin == "vgg"


def test_valid_cards_have_no_problems():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert card("ok").problems() == []
    assert card("ok", default_input_size=4).problems() == ["default_input_size must not be below min_input_size"]


def test_a_plugin_that_lost_a_name_clash_is_partial():
    with registered(Registers(card("vgg16"), card("zz-kept")), "copycat"):
        with pytest.warns(PluginWarning):
            report = {p.name: p for p in registry.plugin_report()}
        assert report["copycat"].status == "partial"
        assert report["copycat"].error == "backbone 'vgg16' rejected: plugin 'vgg' already registered that name"
        assert report["copycat"].backbones == ["zz-kept"]
        assert report["vgg"].status == "ok" and report["vgg"].error is None


def test_an_entry_point_calling_sys_exit_is_recorded_but_ctrl_c_still_stops():
    from zoo import plugins

    def exits():
        raise SystemExit(3)

    def interrupted():
        raise KeyboardInterrupt

    try:
        with pytest.warns(PluginWarning, match="plugin 'zz-exits' skipped: SystemExit: 3"):
            plugins._load(plugins.PluginInfo("zz-exits", "zz-dist", "1.0"), exits)
        report = {p.name: p for p in registry.plugin_report()}
        assert report["zz-exits"].status == "broken" and report["zz-exits"].error == "SystemExit: 3"
        with pytest.raises(KeyboardInterrupt):
            plugins._load(plugins.PluginInfo("zz-interrupted"), interrupted)
    finally:
        plugins._tried.pop("zz-exits", None)
        plugins._tried.pop("zz-interrupted", None)
