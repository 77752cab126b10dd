"""zoo as a library: ``zoo.compare(...)`` and ``zoo.bench(...)`` return pandas DataFrames.

The keyword arguments are the command's options with underscores (``--batch-size`` is
``batch_size``), checked the same way; bad input raises ``zoo.BadInput`` with the line
the command would print. The command line is a thin layer over the same functions.
"""

from __future__ import annotations

from rich.console import Console


def compare(backbones, dataset: str = "cifar10", *, output=None, data_dir=None, strict: bool = False, seeds=None,
            repeats: int | None = None, seed: int = 0, resume: bool = False, overwrite: bool = False,
            cache: bool = True, cache_budget_mb: float | None = None, store: bool = True, executor: str = "local",
            jobs: int | None = None, address: str | None = None, cpus_per_trial: float | None = None,
            gpus_per_trial: float | None = None, plugins=(), progress: bool = True, max_params=None,
            max_gmacs: float | None = None, top: int | None = None, rank_by: str = "logme",
            save_models: str = "best", save_optimizer: bool = False, mlflow: str | None = None,
            experiment: str | None = None, tensorboard: bool = False, retime: bool = False, **recipe):
    """Fine-tune ``backbones`` (names or wildcards, or one) on ``dataset`` under one protocol; returns a
    DataFrame with the rows and columns of ``results.csv``, best test accuracy first.

    ``**recipe`` takes the options that shape a result (``epochs``, ``batch_size``, ``lr``,
    ``optimizer``, ``weights``... see ``zoo.core.recipe.Recipe``); each one not given is the
    dataset's recommendation, else the default, as on the command line. ``weights=None``
    means no weights. Files are written only to ``output`` when it is given (results,
    plots and each backbone's best model); by default nothing is written and no model is
    kept. Progress shows on stderr, in a terminal or a notebook, unless ``progress=False``.
    A trial that fails is a row with ``status`` failed (even for bad input that only one backbone
    meets, such as a layer it lacks), as in results.csv; ``frame.attrs["exit_code"]`` is the code
    the command would exit with, and ``frame.attrs["predictions"]`` every trial's test
    predictions (one row per trial and test image: ``trial``, then predictions.csv's columns).
    Ctrl-C saves what finished, then raises KeyboardInterrupt.
    With ``strict`` a file of a folder dataset that is not a readable image raises BadInput
    naming it (or fails its trial, when only decoding finds it); otherwise it is skipped and
    counted in the rows' ``skipped_images``.
    """
    from .run.plan import plan  # no Keras: bad input is raised at once

    console = Console(stderr=True, soft_wrap=True)
    checked = plan(backbones, dataset, given=recipe, data_dir=data_dir, strict=strict, seeds=seeds, repeats=repeats, seed=seed,
                   output=output, resume=resume, overwrite=overwrite, cache=cache, cache_budget_mb=cache_budget_mb,
                   store=store, executor=executor, jobs=jobs, address=address, cpus_per_trial=cpus_per_trial,
                   gpus_per_trial=gpus_per_trial, plugins=tuple(plugins), max_params=max_params, max_gmacs=max_gmacs,
                   top=top, rank_by=rank_by, save_models=save_models, save_optimizer=save_optimizer,
                   mlflow=mlflow, experiment=experiment, tensorboard=tensorboard, retime=retime)
    say_recommendations(checked, console)
    from .results.report import predictions_frame, results_frame
    from .run.comparison import run  # Keras, now that there is work

    outcome = run(checked, console, progress)
    if outcome.code == 130:  # saved what finished (in output, when given); now stop the caller too
        raise KeyboardInterrupt
    frame = results_frame(outcome.rows)
    frame.attrs["exit_code"] = outcome.code  # what `zoo compare` would exit with: 1 or 2 when a trial failed
    frame.attrs["predictions"] = predictions_frame(outcome.predictions)
    return frame


def rank(backbones, dataset: str = "cifar10", *, output=None, data_dir=None, strict: bool = False,
         store: bool = True,
         executor: str = "local", jobs: int | None = None, address: str | None = None,
         cpus_per_trial: float | None = None, gpus_per_trial: float | None = None, plugins=(),
         progress: bool = True, max_params=None, max_gmacs: float | None = None, mlflow: str | None = None,
         experiment: str | None = None, rank_by: str = "logme", **recipe):
    """Rank ``backbones`` from their frozen features without training (``zoo rank``); returns a
    DataFrame of rank.csv's rows, best first by ``rank_by`` (logme, knn or linear_probe). ``**recipe`` takes what shapes the features
    (``weights``, ``input_size``, ``resize``, ``preprocess``, ``batch_size``, ``val_split``,
    ``limit``); ``strict`` as for ``compare``.
    rank.json and rank.csv are written to ``output`` when it is given."""
    import pandas as pd

    from .core.recipe import FEATURE_NAMES
    from .core.rows import RankRow
    from .errors import BadInput
    from .run.plan import plan  # no Keras: bad input is raised at once

    unknown = sorted(set(recipe) - set(FEATURE_NAMES))
    if unknown:
        raise BadInput(f"rank takes no {', '.join(unknown)}: what shapes features is {', '.join(FEATURE_NAMES)}.")
    console = Console(stderr=True, soft_wrap=True)
    checked = plan(backbones, dataset, given=recipe, data_dir=data_dir, strict=strict, output=output, store=store,
                   executor=executor, jobs=jobs, address=address, cpus_per_trial=cpus_per_trial,
                   gpus_per_trial=gpus_per_trial, plugins=tuple(plugins), max_params=max_params, max_gmacs=max_gmacs,
                   mlflow=mlflow, experiment=experiment, rank_by=rank_by)
    from .run.ranking import rank as rank_plan  # Keras, now that there is work

    rows, code = rank_plan(checked, console, progress)
    frame = pd.DataFrame([row.to_dict() for row in rows], columns=list(RankRow.__dataclass_fields__))
    frame.attrs["exit_code"] = code
    return frame


def say_recommendations(plan, console: Console, only=None) -> None:
    """Which of a dataset's recommended settings apply (of ``only``, when given), so nobody is
    surprised by them."""
    from .core.recipe import flag

    for spec, applied in plan.applied.items():
        applied = {k: v for k, v in applied.items() if only is None or k in only}
        if applied:
            flags = " ".join(f"{flag(key)} {value}" for key, value in applied.items())
            console.print(f"{spec}: using the dataset's recommended {flags} (give them to override).",
                          highlight=False)


def bench(backbones, *, mode: str = "both", batch_size: int = 32, input_size: int | None = None,
          steps: int | None = None, warmup: int | None = None, precision: str = "float32",
          jit: bool | None = None, freeze: str = "recommended", backends=None, plugins=(),
          progress: bool = True, max_params=None, max_gmacs: float | None = None):
    """Train and inference step times of ``backbones`` (names or wildcards, or one) on random data;
    returns a DataFrame of ``zoo bench`` rows (one per backbone and mode, and backend with
    ``backends``). Arguments are ``zoo bench``'s options; nothing is written to disk."""
    import pandas as pd

    from .backbones.checks import check_batch_fits, check_extra, check_input_size
    from .backbones.selection import choose
    from .benchmark.backends import run_backends
    from .benchmark.settings import BACKENDS, MODES, PRECISIONS, ROW_KEYS, STATUS_KEYS, Settings
    from .core.registry import get_backbone
    from .errors import BadInput
    from .plugins import load_plugins
    from .training import timing

    load_plugins(tuple(plugins))
    names = [backbones] if isinstance(backbones, str) else list(backbones)
    cards = [get_backbone(name) for name in choose(names, max_params=max_params, max_gmacs=max_gmacs)]
    for name, value, allowed in (("mode", mode, (*MODES, "both")), ("precision", precision, PRECISIONS),
                                 ("freeze", freeze, ("recommended", "none"))):
        if value not in allowed:
            raise BadInput(f"--{name} {value!r}: choose one of {', '.join(allowed)}.")
    unknown = [b for b in (backends or []) if b not in BACKENDS]
    if unknown:
        raise BadInput(f"--backends {','.join(unknown)}: choose among {', '.join(BACKENDS)}.")
    for card in cards:
        check_extra(card)
        if input_size is not None:
            check_input_size(card, input_size)
    for card in cards:  # the random batch, before it is allocated
        check_batch_fits(batch_size, input_size or card.min_input_size, 3, f"a batch for {card.name}")
    settings = Settings(batch_size, input_size, timing.TIMED_STEPS if steps is None else steps,
                        timing.WARMUP_STEPS if warmup is None else warmup, precision, jit, freeze)
    say = Console(stderr=True).print if progress else None
    if backends:
        rows = run_backends(list(backends), cards, settings, mode, tuple(plugins), say)
    else:
        from .backend import check_backend

        check_backend()  # before Keras is imported
        from .benchmark.measure import run_bench  # Keras, now that there is work

        rows = run_bench(cards, settings, mode, say)
    return pd.DataFrame(rows, columns=[*ROW_KEYS, *STATUS_KEYS])
