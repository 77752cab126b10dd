"""A fair learning rate for each backbone: the candidates a recipe asks for, as concrete recipes.

``--lr 1e-4,1e-3,1e-2`` (and ``--dropout`` lists) give a grid; ``--tune N`` draws N candidates
with Optuna's TPE over log-lr and dropout (``zoo[tune]``). Each candidate is trained and the one
with the best validation accuracy is kept; only that one is evaluated on the test split
(zoo.training.harness). Kornblith, Shlens and Le ("Do Better ImageNet Models Transfer Better?", CVPR 2019)
show that one fixed rate for all backbones can reverse their ranking.
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from itertools import product

from ..core.recipe import Recipe
from ..errors import BadInput

# --tune's search space, narrowed to a list's smallest and largest value where --lr/--dropout give one.
TUNE_LR = (1e-5, 1e-1)
TUNE_DROPOUT = (0.0, 0.7)
TUNING_COLUMNS = ["backbone", "dataset", "seed", "lr", "dropout", "val_accuracy", "chosen"]


def values(value) -> tuple:
    """A recipe field's candidates: a list as given, one value alone."""
    return value if isinstance(value, tuple) else (value,)


def is_tuned(recipe: Recipe) -> bool:
    """Whether a trial under ``recipe`` tries several candidates."""
    return recipe.tune is not None or len(values(recipe.lr)) > 1 or len(values(recipe.dropout)) > 1


def single(value):
    """A field's value when it is one (a row's lr before any is chosen); None for a list."""
    return None if isinstance(value, tuple) else value


def check_tuning(recipe: Recipe) -> None:
    """BadInput, before any work, for --tune without Optuna. (A list with --protocol linear-probe
    is refused with the other options it ignores: zoo.core.recipe.check_protocol.)"""
    if recipe.tune is not None:
        if importlib.util.find_spec("optuna") is None:
            raise BadInput('--tune needs Optuna: pip install "zoo[tune]" (or give --lr a list: a grid).')


def candidates(recipe: Recipe, seed: int):
    """Yield ``(candidate, tell)`` pairs: ``candidate`` is ``recipe`` with one lr and one dropout,
    and ``tell(val_accuracy)`` reports how it did (TPE draws the next candidates from it).

    A grid (the lists' product, in the order given) when ``recipe.tune`` is None; otherwise
    ``recipe.tune`` candidates from Optuna's TPESampler seeded by ``seed``, lr log-uniform in
    ``TUNE_LR`` and dropout uniform in ``TUNE_DROPOUT``, each narrowed to a list's range.
    """
    if recipe.tune is None:
        for lr, dropout in product(values(recipe.lr), values(recipe.dropout)):
            yield replace(recipe, lr=lr, dropout=dropout, tune=None), lambda accuracy: None
        return
    import optuna
    from optuna.distributions import FloatDistribution

    def span(value, default):
        given = values(value)
        return (min(given), max(given)) if len(given) > 1 else default

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # zoo's own progress says what runs
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    space = {"lr": FloatDistribution(*span(recipe.lr, TUNE_LR), log=True),
             "dropout": FloatDistribution(*span(recipe.dropout, TUNE_DROPOUT))}
    for _ in range(recipe.tune):
        drawn = study.ask(space)
        yield (replace(recipe, lr=drawn.params["lr"], dropout=drawn.params["dropout"], tune=None),
               lambda accuracy, drawn=drawn: study.tell(drawn, accuracy))
