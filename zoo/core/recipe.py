"""The recipe: every option that shapes a trial's result, in one frozen dataclass.

Everything else derives from ``Recipe``'s fields, so nothing can drift: the
``zoo compare`` options (``recipe_options``), the Python API's keyword arguments
(``recipe_from``), the fingerprint ``--resume`` compares, and the recipe columns
of every result row (zoo.core.rows). ``resolve`` decides each value in one place:
given > the dataset's recommendation > the default, as timm's ``resolve_data_config``
decides "command line over card".

This module stays light (no Keras): ``zoo --help`` builds its options from it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields

import click

from ..errors import BadInput


def _option(default, type_=None, help="", metavar=None, flag=None):
    """A recipe field: its default, and how the command line spells and checks it."""
    return field(default=default, metadata={"type": type_, "help": help, "metavar": metavar, "flag": flag})


class _Weights(click.ParamType):
    """``imagenet``, ``none`` (no weights: None) or the path of a weights file (of a preset folder,
    for a keras-hub card)."""

    name = "weights"

    def convert(self, value, param, ctx):
        if value is None or (isinstance(value, str) and value.lower() == "none"):
            return None
        if str(value) == "imagenet":
            return "imagenet"
        # A path, with ~ expanded here once: everything after (the checks, the build, the feature
        # store's key) reads the same file.
        return os.path.expanduser(str(value))


class _Candidates(click.ParamType):
    """One value, or a comma-separated list of candidates (``1e-4,1e-3,1e-2``) each checked by
    ``base``: a list is tuned per backbone, chosen on validation (zoo.training.tuning)."""

    def __init__(self, base: click.ParamType):
        self.base, self.name = base, f"{base.name} list"

    def convert(self, value, param, ctx):
        parts = value.split(",") if isinstance(value, str) else value if isinstance(value, (list, tuple)) else [value]
        parts = [p.strip() if isinstance(p, str) else p for p in parts]
        if not parts or any(p == "" for p in parts):
            self.fail(f"{value!r}: give a number or a comma-separated list of numbers.", param, ctx)
        values = tuple(dict.fromkeys(self.base.convert(p, param, ctx) for p in parts))
        return values[0] if len(values) == 1 else values  # NaN: refused by ``check``, as for one number


class _Devices(click.ParamType):
    name = "devices"

    def convert(self, value, param, ctx):
        if value is None or value == "all":
            return value
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        if isinstance(value, str) and value.isdigit() and int(value) >= 1:
            return int(value)
        self.fail(f"{value!r}: give a number of devices (1 or more) or 'all'.", param, ctx)


@dataclass(frozen=True)
class Recipe:
    """One protocol for every backbone; the defaults are the classic VGG16-on-CIFAR-10 recipe."""

    weights: str | None = _option("imagenet", _Weights(), "imagenet, none, or the path of a weights file (a preset folder for keras-hub cards).",
                                  "imagenet|none|PATH")
    epochs: int = _option(10, click.IntRange(min=1))
    batch_size: int = _option(32, click.IntRange(min=1), "Images per step (per device with --devices).")
    optimizer: str = _option("sgd", click.Choice(["sgd", "adam"]))
    protocol: str = _option("fine-tune", click.Choice(["fine-tune", "linear-probe"]),
                            "fine-tune: train the head (and what --freeze leaves) by SGD/Adam; linear-probe: "
                            "L2-regularised logistic regression on the pooled frozen features, its C chosen on "
                            "validation (scikit-learn).")
    lr: float | tuple = _option(1e-4, _Candidates(click.FloatRange(min=0, min_open=True)),
                                "Learning rate; a list (1e-4,1e-3,1e-2) is tuned per backbone: each trained, "
                                "the best on validation kept.", "LR[,LR...]")
    momentum: float = _option(0.9, click.FloatRange(0, 1), "SGD momentum.")
    val_split: float = _option(0.2, click.FloatRange(0, 1, min_open=True, max_open=True),
                               "The first part of the training set kept for validation.")
    limit: int | None = _option(None, click.IntRange(min=2), "Use at most the first N train and N test images.")
    input_size: int | None = _option(None, click.IntRange(min=1),
                                     "Default: for folders, each backbone's default size (its card's); for "
                                     "arrays (CIFAR, MNIST), their own size; raised to each backbone's minimum.")
    resize: str = _option("crop", click.Choice(["crop", "squash", "pad"]),
                          "How images of another shape take the input size: crop (shorter side to the size, the "
                          "centre kept, as timm evaluates), squash (aspect ignored, Keras's default) or pad.")
    freeze: str = _option("recommended", str, "recommended, all, none, a layer name or an index.",
                          "recommended|all|none|LAYER|INDEX")
    pooling: str = _option("recommended", click.Choice(["recommended", "flatten", "avg", "max", "cls", "mean", "none"]))
    preprocess: bool = _option(True, bool, "Apply each backbone's own preprocessing; --no-preprocess feeds raw "
                               "0-255 pixels (the classic recipe).", flag="--preprocess/--no-preprocess")
    head: str = _option("dense", str, "A registered head (`zoo heads`): dense, bn, linear...")
    dropout: float | tuple = _option(0.5, _Candidates(click.FloatRange(0, 1, max_open=True)),
                                     "The head's dropout rate; a list is tuned as --lr's is.", "RATE[,RATE...]")
    tune: int | None = _option(None, click.IntRange(min=1), "Tune with Optuna (zoo[tune]): N candidates per "
                               "backbone drawn by TPE over log-lr and dropout, the best on validation kept.", "N")
    finetune_epochs: int = _option(0, click.IntRange(min=0), "Two-stage: after the head has trained (backbone "
                                   "frozen), train end to end for N epochs.")
    finetune_lr: float = _option(1e-5, click.FloatRange(min=0, min_open=True), "Stage two's learning rate.")
    unfreeze_from: str | None = _option(None, str, "Stage two trains from this layer on (default: the card's "
                                        "freeze layer, or its last block).", "LAYER|INDEX")
    devices: int | str | None = _option(None, _Devices(), "Data-parallel training over N accelerators of one "
                                        "machine (CPUs when there are none).", "N|all")

    def fingerprint(self) -> str:
        """The recipe as text: ``--resume`` runs a trial again when it changed. Options added
        since a folder was written leave it out at their default, so that a folder of an older
        zoo resumes as it was (its trials ran under that default)."""
        options = {key: value for key, value in asdict(self).items() if (key, value) not in ADDED_AT_DEFAULT}
        return json.dumps(options, sort_keys=True, default=str)  # str: a NumPy number


NAMES = tuple(f.name for f in fields(Recipe))
# (option, default) of the options zoo gained after its results files had fingerprints.
ADDED_AT_DEFAULT = {("protocol", "fine-tune"), ("tune", None)}


def flag(name: str) -> str:
    """A recipe field as its command-line option: ``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


def check(name: str, value):
    """``value`` for recipe field ``name``, converted and checked as the command line does."""
    spec = {f.name: f for f in fields(Recipe)}[name]
    type_ = spec.metadata["type"]
    if value is None and (spec.default is None or name == "weights"):  # weights=None: no weights
        return None
    if type_ is bool or isinstance(value, bool) or value is None:
        if type_ is not bool or not isinstance(value, bool):
            raise BadInput(f"{flag(name)}: {value!r} is not a value for it (see `zoo compare --help`).")
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise BadInput(f"{flag(name)}: give a finite number, not {value}.")
    if isinstance(type_, click.IntRange) and isinstance(value, float) and not value.is_integer():
        raise BadInput(f"{flag(name)}: give a whole number, not {value}.")
    try:
        converted = click.types.convert_type(type_).convert(value, None, None)
    except click.BadParameter as exc:
        raise BadInput(f"{flag(name)}: {exc.message}") from None
    for number in converted if isinstance(converted, tuple) else (converted,):  # click's ranges let nan through
        if isinstance(number, float) and not math.isfinite(number):
            raise BadInput(f"{flag(name)}: give a finite number, not {number}.")
    return converted


# What only fine-tuning reads: given with --protocol linear-probe, it would change nothing.
FINE_TUNE_ONLY = ("epochs", "optimizer", "lr", "momentum", "head", "dropout", "tune", "freeze", "finetune_epochs",
                  "finetune_lr", "unfreeze_from", "devices")


def check_protocol(given: dict) -> None:
    """BadInput for an option given that the chosen protocol would ignore (``--epochs`` with
    ``--protocol linear-probe``), naming them."""
    if given.get("protocol") == "linear-probe":
        ignored = [flag(name) for name in FINE_TUNE_ONLY if name in given]
        if ignored:
            raise BadInput(f"--protocol linear-probe fits a logistic regression on frozen features, its C chosen on "
                           f"validation: leave out {', '.join(ignored)} (no epochs, learning rate, head or freeze).")


def check_tune(given: dict, recipe: Recipe) -> None:
    """BadInput for ``--tune N`` with one ``--lr`` or ``--dropout`` given: Optuna draws both over
    their whole range (a list narrows it), so the value given would be dropped without a word."""
    if recipe.tune is None:
        return
    fixed = [f"{flag(name)} {getattr(recipe, name):g}" for name in ("lr", "dropout")
             if name in given and not isinstance(getattr(recipe, name), tuple)]
    if fixed:
        raise BadInput(f"--tune {recipe.tune} draws the learning rate and dropout itself: leave out "
                       f"{' and '.join(fixed)}, or give a list to search between (--lr 1e-4,1e-2).")


def recipe_from(given: dict) -> Recipe:
    """A recipe from keyword arguments named as its fields; an unknown name is refused with the known ones."""
    unknown = sorted(set(given) - set(NAMES))
    if unknown:
        raise BadInput(f"unknown recipe option {', '.join(map(repr, unknown))}; the options are "
                       f"{', '.join(NAMES)}.")
    return Recipe(**{name: check(name, value) for name, value in given.items()})


def resolve(given: dict, recommended: dict) -> tuple[Recipe, dict]:
    """The recipe: each value ``given`` > the dataset's ``recommended`` one (its card's
    ``recipe``) > the default. The caller looks the card up, as timm's ``resolve_data_config``
    takes the model's config as a value.

    Returns the recipe and the recommendations applied (those the caller did not give).
    Raises BadInput for an unknown option, a value its option refuses, or options that
    contradict each other (check_protocol, check_tune).
    """
    check_protocol(given)
    if given.get("protocol") == "linear-probe":  # a dataset's training recommendations do not apply
        recommended = {key: value for key, value in recommended.items() if key not in FINE_TUNE_ONLY}
    applied = {key: value for key, value in recommended.items() if key not in given}
    recipe = recipe_from({**applied, **given})
    check_tune(given, recipe)
    return recipe, applied


def recipe_options(command, names=NAMES):
    """Decorate a click command with one option per recipe field (or those ``names``); the command
    gets them as keywords."""
    for spec in reversed([f for f in fields(Recipe) if f.name in names]):
        meta = spec.metadata
        if meta["type"] is bool:
            command = click.option(meta["flag"], spec.name, default=spec.default, show_default=True,
                                   help=meta["help"])(command)
            continue
        command = click.option(flag(spec.name), spec.name, type=meta["type"], default=spec.default,
                               show_default=spec.default is not None, metavar=meta["metavar"],
                               help=meta["help"] or None)(command)
    return command


# What determines frozen features, and so a ranking (zoo rank): the rest of the recipe trains.
FEATURE_NAMES = ("weights", "batch_size", "val_split", "limit", "input_size", "resize", "preprocess")


def feature_options(command):
    return recipe_options(command, FEATURE_NAMES)
