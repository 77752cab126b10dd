"""One trial, wherever it runs (this process, a trial subprocess, a Ray worker): the dataset's
splits, then the harness (fine-tune), the linear probe or the rank probe, then its MLflow run. Every failure but
Ctrl-C becomes a failed row, so one trial failing never loses the others."""

from __future__ import annotations

from ..core.registry import get_backbone
from ..data.datasets import Splits, load
from ..errors import BadInput, ZooError, one_line
from ..plugins import load_plugins
from ..results.tracking import log_trial
from ..training.harness import run_backbone
from ..training.linear_probe import run_linear_probe
from ..training.probe import rank_backbone
from ..training.trials import Trial, TrialResult, failed


def run_trial(trial: Trial, data=None, progress=None, say=print) -> TrialResult:
    """Run one trial and return its result; a failure is a failed row, never an exception (but Ctrl-C).

    ``data`` is the dataset's ``ImageData`` when the executor loaded it once for all
    trials; otherwise it is read here from ``trial.spec``.
    """
    load_plugins(trial.plugins)
    try:
        if data is None:
            data = load(trial.spec)
        splits = Splits.from_data(data, trial.recipe.val_split, trial.recipe.limit)
        if trial.task == "rank":
            result = TrialResult(rank_backbone(get_backbone(trial.backbone), splits, trial, progress, say), {})
        else:
            protocol = run_linear_probe if trial.recipe.protocol == "linear-probe" else run_backbone
            outcome = protocol(get_backbone(trial.backbone), splits, trial, progress, say)
            result = TrialResult(outcome.row, outcome.history, confusion=outcome.confusion,
                                     predictions=outcome.predictions, tuning=outcome.tuning)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # one trial failing must not lose the others
        error = str(exc) if isinstance(exc, ZooError) else one_line(exc)
        result = failed(trial, error, isinstance(exc, BadInput))
    if trial.mlflow is not None:  # where the trial ran: a subprocess or a Ray worker logs its own run
        try:
            log_trial(trial, result)
        except Exception as exc:  # the result stands: it is in the output folder all the same
            say(f"{trial.backbone}: could not log to MLflow ({one_line(exc)}).")
    return result


def run_trial_away(trial: Trial, data) -> TrialResult:
    """``run_trial`` where nobody watches (a trial subprocess, a Ray worker): what it says goes
    back with its result, for the driver to say."""
    notes = []
    result = run_trial(trial, data, say=lambda *parts, **_: notes.append(" ".join(map(str, parts))))
    result.notes = notes
    return result
