"""The plan: everything a comparison or a ranking will do, decided and checked before any work.

``zoo compare``, ``zoo rank`` and their Python faces all call ``plan``: the backbones chosen,
each ``--dataset`` parsed and looked up once, each dataset's recipe resolved (given > the
dataset's recommendation > the default), weights, head and sizes checked, the seeds, the
executor and where the results go. Any bad input raises BadInput, and the output folder is
made only once everything else has passed.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..backbones.checks import check_extra, check_input_size, check_pooling, check_weights_file
from ..backbones.selection import choose
from ..backend import check_backend
from ..core.files import check_folder
from ..core.recipe import flag, resolve
from ..core.registry import get_backbone, get_dataset, get_head
from ..core.rows import RANK_BY
from ..data.datasets import parse_dataset, parse_dataset_specs
from ..errors import BadInput
from ..plugins import load_plugins
from ..training.store import check_store
from ..training.trials import EXECUTORS, ExecutorOptions, Trial, grid
from ..training.tuning import check_tuning

# Executor options, and the executor each belongs to: given under another, they are refused.
EXECUTOR_OPTIONS = {"jobs": "process", "address": "ray", "cpus_per_trial": "ray", "gpus_per_trial": "ray"}


@dataclass
class Plan:
    """Everything a comparison will do, decided and checked before any training."""

    trials: list[Trial]
    executor: ExecutorOptions
    output: Path | None
    resume: bool = False
    overwrite: bool = False
    applied: dict = field(default_factory=dict)  # dataset -> the recommendations it applied
    seeds: list[int] = field(default_factory=list)
    top: int | None = None  # rank the backbones first and fine-tune the ``top`` best (zoo.run.comparison)
    rank_by: str = "logme"
    save_models: str = "best"  # best: only the best trial's model per dataset stays; all; none
    command: str = ""  # what ran, for the report
    made_output: Path | None = None  # the topmost folder the plan made for the output (zoo-runs/, say)


def seed_list(seeds=None, repeats: int | None = None, seed: int = 0) -> list[int]:
    """``--seeds 1,2`` (or a list), ``--repeats N`` (seeds 0..N-1) or the one ``--seed``."""
    if seeds is not None and repeats:
        raise BadInput("give --seeds or --repeats, not both.")
    if repeats:
        return list(range(repeats))
    if seeds is not None:
        if isinstance(seeds, str):
            try:
                seeds = [int(s) for s in seeds.split(",") if s.strip()]
            except ValueError:
                raise BadInput(f"--seeds {seeds!r} is not a comma-separated list of integers.") from None
        if not seeds:
            raise BadInput("--seeds: give at least one seed.")
        return list(dict.fromkeys(int(s) for s in seeds))
    return [seed]


def plan(backbones, dataset: str = "cifar10", *, given: dict, data_dir=None, strict: bool = False, seeds=None, repeats=None,
         seed: int = 0, output=None, resume: bool = False, overwrite: bool = False, cache: bool = True,
         cache_budget_mb=None, store: bool = True, executor: str = "local", jobs=None, address=None,
         cpus_per_trial=None, gpus_per_trial=None, plugins=(), all_: bool = False, max_params=None,
         max_gmacs=None, top: int | None = None, rank_by: str = "logme", save_models: str = "best",
         save_optimizer: bool = False, mlflow: str | None = None, experiment: str | None = None,
         tensorboard: bool = False, retime: bool = False, command: str = "") -> Plan:
    """The checked plan: backbones (or ``all_``), datasets and their recipes (``given`` > the
    dataset's recommendation > the default), seeds, executor and output. An executor option
    left None is not given. Any bad input raises BadInput, before the output folder is made."""
    check_backend()
    load_plugins(tuple(plugins))
    names = [backbones] if isinstance(backbones, str) else list(backbones or [])
    cards = [get_backbone(name) for name in choose(names, all_, max_params=max_params, max_gmacs=max_gmacs)]
    texts = parse_dataset_specs(dataset)
    specs = [parse_dataset(text, data_dir, alone=len(texts) == 1, strict=strict) for text in texts]
    for card in cards:
        check_extra(card)
    recipes, applied = {}, {}
    for spec in specs:  # each dataset under its own recommendations
        recipes[spec.text], applied[spec.text] = resolve(given, get_dataset(spec.name).recipe)
    named = not all_ and max_params is None and max_gmacs is None and not any(set("*?[") & set(n) for n in names)
    without = [card.name for card in cards if not card.imagenet]
    if without and not named and any(recipe.weights == "imagenet" for recipe in recipes.values()):
        # Chosen by --all, a pattern or a limit: left out, not refused (a backbone named is refused).
        warnings.warn(f"--weights imagenet leaves out {', '.join(without)}: no pretrained weights to download "
                      "(name it with --weights DIR or --weights none).", stacklevel=2)
        cards = [card for card in cards if card.imagenet]
        if not cards:
            raise BadInput("--weights imagenet: none of the backbones chosen has pretrained weights to download; "
                           "give --weights DIR or --weights none.")
    for recipe in dict.fromkeys(recipes.values()):
        check_tuning(recipe)
        get_head(recipe.head)  # an unknown head fails before any data is read
        check_weights(recipe.weights, cards)
        for card in cards:
            check_pooling(card, recipe.pooling)
            if recipe.input_size is not None:
                check_input_size(card, recipe.input_size, recipe.weights)
    if executor not in EXECUTORS:
        raise BadInput(f"--executor {executor!r}: use one of {', '.join(EXECUTORS)}.")
    executor_given = {name: value for name, value in (("jobs", jobs), ("address", address),
                      ("cpus_per_trial", cpus_per_trial), ("gpus_per_trial", gpus_per_trial)) if value is not None}
    for name in executor_given:
        if EXECUTOR_OPTIONS[name] != executor:
            raise BadInput(f"{flag(name)} applies to --executor {EXECUTOR_OPTIONS[name]} only: add "
                           f"--executor {EXECUTOR_OPTIONS[name]}, or leave {flag(name)} out.")
    if resume and overwrite:
        raise BadInput("give --resume (keep the earlier results) or --overwrite (replace them), not both.")
    if resume and output is None:
        raise BadInput("--resume needs --output FOLDER: the folder of the run to resume.")
    if rank_by not in RANK_BY:
        raise BadInput(f"--rank-by {rank_by!r}: choose one of {', '.join(RANK_BY)}.")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise BadInput(f"--top {top!r}: give the number of backbones to fine-tune (1 or more).")
    seeds = seed_list(seeds, repeats, seed)
    output = None if output is None else Path(output).expanduser()
    trials = grid([card.name for card in cards], specs, seeds, recipes, output=output, plugins=plugins,
                  cache=cache, cache_budget_mb=cache_budget_mb, store=store)
    trials = where_results_go(trials, output, save_models, save_optimizer, mlflow, experiment, tensorboard)
    # Trials that run beside others share the machine: their step timings say so (zoo.training.harness).
    shared = (executor == "process" and (jobs or 1) > 1) or (executor == "ray" and len(trials) > 1)
    trials = [replace(trial, retime=retime, shared_load=shared) for trial in trials]
    if store and cache:
        check_store()
    made_output = None  # the topmost folder of the output that does not exist yet
    if output is not None:
        absolute = Path(os.path.abspath(output))  # abspath resolves "..", which .parents would not
        for folder in (absolute, *absolute.parents):
            if folder.exists():
                break
            made_output = folder
        output = check_folder(output)  # made last: a refused plan leaves nothing behind
    return Plan(trials, ExecutorOptions(executor, **executor_given), output, resume, overwrite, applied,
                seeds, top, rank_by, save_models, command, made_output)


SAVE_MODELS = ("best", "all", "none")


def where_results_go(trials, output, save_models, save_optimizer, mlflow, experiment, tensorboard):
    """The trials with --save-models, --mlflow/--experiment and --tensorboard applied, each checked:
    models kept on purpose, TensorBoard logs and an MLflow run per trial (zoo.results.tracking logs it)."""
    if save_models not in SAVE_MODELS:
        raise BadInput(f"--save-models {save_models!r}: choose one of {', '.join(SAVE_MODELS)}.")
    uri = mlflow_uri(mlflow)
    if experiment is not None and uri is None:
        raise BadInput("--experiment names an MLflow experiment: add --mlflow [URI].")
    if tensorboard:
        if output is None:
            raise BadInput("--tensorboard writes its logs under the output folder: give output=FOLDER.")
        # Keras's TensorBoard callback writes through TensorFlow's summaries, which need tensorboard.
        if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("tensorboard") is None:
            raise BadInput('--tensorboard needs TensorFlow and TensorBoard: pip install tensorflow "zoo[tensorboard]".')
    return [replace(trial, folder=None if save_models == "none" else trial.folder, save_models=save_models,
                    save_optimizer=save_optimizer, mlflow=uri, experiment=experiment,
                    tensorboard=str(Path(output) / "tensorboard" / trial.slug) if tensorboard else None)
            for trial in trials]


def mlflow_uri(given: str | None) -> str | None:
    """``--mlflow [URI]``: the URI given, else ``MLFLOW_TRACKING_URI``; None when neither turns
    MLflow on (``""``: ``--mlflow`` alone with no variable set, MLflow's own default)."""
    if given is None and not os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    if given and ":" not in given and "/" not in given:  # click took the next word: a backbone?
        raise BadInput(f"--mlflow {given}: give a tracking URI (sqlite:///mlflow.db, http://host:5000) as "
                       "--mlflow=URI, or put --mlflow after the backbone names.")
    try:
        import mlflow  # noqa: F401
    except ImportError:
        if given is None:  # the variable alone, set for other tools: say so and go on
            warnings.warn('MLFLOW_TRACKING_URI is set but MLflow is not installed: not logging to it '
                          '(pip install "zoo[mlflow]").', stacklevel=2)
            return None
        raise BadInput('--mlflow needs MLflow: pip install "zoo[mlflow]".') from None
    return given or os.environ.get("MLFLOW_TRACKING_URI", "")


def check_weights(weights, cards) -> None:
    """A weights file or preset folder fits one architecture: refused for several backbones before any
    work, as is ``imagenet`` for a backbone that has no pretrained weights."""
    if weights == "imagenet":
        without = [card.name for card in cards if not card.imagenet]
        if without:
            raise BadInput(f"--weights imagenet: {', '.join(without)} has no pretrained weights to download: pass "
                           "--weights DIR (a preset folder) or --weights none.")
    if weights in (None, "imagenet"):
        return
    if len(cards) > 1:
        raise BadInput(f"--weights {weights}: one weights file or preset folder cannot fit {len(cards)} backbones "
                       f"({', '.join(c.name for c in cards)}); compare one backbone with its own file, "
                       "or use --weights imagenet or --weights none.")
    check_weights_file(weights, cards[0])
