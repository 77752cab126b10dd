"""Where trials run: in this process, in fresh subprocesses, or on a Ray cluster.

zoo schedules nothing itself. ``local`` runs trials one after another; ``process``
hands each to a fresh Python process through a thread pool (a crash or an
out-of-memory kill takes down that trial alone); ``ray`` hands them to Ray, which
places them on a cluster's machines by the resources they ask for. Each executor
yields ``(trial, TrialResult)`` as trials finish.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import BadInput
from .trials import Trial, TrialResult, failed, run_trial

EXECUTORS = ("local", "process", "ray")


@dataclass
class ExecutorOptions:
    name: str = "local"
    jobs: int = 1  # process: trials at a time
    address: str | None = None  # ray: None starts a local instance; "auto" or "ray://host:port" joins
    cpus_per_trial: float = 1
    gpus_per_trial: float = 0


def run_trials(trials: list[Trial], datasets: dict, executor: ExecutorOptions, progress=None, say=print):
    """Yield ``(trial, result)`` for every trial as it finishes; ``datasets`` maps a spec to its data."""
    if executor.name == "local":
        yield from _local(trials, datasets, progress, say)
    elif executor.name == "process":
        yield from _processes(trials, datasets, executor.jobs)
    elif executor.name == "ray":
        yield from _ray(trials, datasets, executor)
    else:
        raise BadInput(f"unknown executor {executor.name!r}; use one of {', '.join(EXECUTORS)}.")


def _local(trials, datasets, progress, say):
    for trial in trials:  # run_backbone clears the Keras session before each
        yield trial, run_trial(trial, datasets[trial.dataset], progress, say)


# --- process: one fresh Python per trial -------------------------------------------------

def _save_dataset(data, folder: Path) -> Path:
    """The dataset as an .npz the trial processes read (memory-mapped arrays, no pickle)."""
    path = folder / f"{data.name.replace('/', '_').replace(':', '_')}.npz"
    np.savez(path, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test,
             class_names=np.array(data.class_names, dtype=str), meta=np.array([data.name, data.source, data.note]))
    return path


def load_saved_dataset(path):
    from .datasets import ImageData

    with np.load(path, allow_pickle=False) as files:
        name, source, note = (str(v) for v in files["meta"])
        return ImageData(name, files["x_train"], files["y_train"], files["x_test"], files["y_test"],
                         [str(c) for c in files["class_names"]], source, note)


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _in_subprocess(trial: Trial, data_path: Path, work: Path) -> TrialResult:
    spec, result = work / f"{trial.slug}.trial.json", work / f"{trial.slug}.result.json"
    spec.write_text(json.dumps({"trial": trial.to_json(), "data": str(data_path)}))
    result.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-m", "zoo.worker", str(spec), str(result)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode == 0 and result.is_file():
        return TrialResult(**json.loads(result.read_text()))
    if done.returncode < 0:
        return failed(trial, f"the trial's process was killed by {_signal_name(done.returncode)}")
    # A Python error's last line says what it was; anything else on stderr is backend chatter.
    why = done.stderr.strip().splitlines()[-1][:300] if "Traceback" in done.stderr else "no result reported"
    return failed(trial, f"the trial's process exited with code {done.returncode}: {why}")


def _processes(trials, datasets, jobs: int):
    if not trials:
        return
    # The run's output folder (trials write in it or in sub-folders of it).
    work = Path(os.path.commonpath([str(t.options.output) for t in trials])) / ".zoo-work"
    work.mkdir(parents=True, exist_ok=True)
    saved = {spec: _save_dataset(data, work) for spec, data in datasets.items()}
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures = {pool.submit(_in_subprocess, trial, saved[trial.dataset], work): trial for trial in trials}
    try:
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:  # Ctrl-C: the children got SIGINT too; start no more
        pool.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(work, ignore_errors=True)


# --- ray: trials as Ray tasks ---------------------------------------------------------------

def _ray_task(trial_json: dict, data) -> dict:
    """What a Ray worker runs: the trial, with the dataset from Ray's object store."""
    from dataclasses import asdict

    result = run_trial(Trial.from_json(trial_json), data, say=lambda *a, **k: None)
    return asdict(result)


def _ray(trials, datasets, executor: ExecutorOptions):
    try:
        import ray
    except ImportError:
        raise BadInput("--executor ray needs Ray: pip install 'zoo[ray]' (or pip install ray).") from None
    if not ray.is_initialized():
        ray.init(address=executor.address, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {k: v for k, v in os.environ.items()
                                           if k.startswith(("KERAS_", "ZOO_"))}})
    # Each dataset goes into the object store once; every trial reads it from there.
    refs = {spec: ray.put(data) for spec, data in datasets.items()}
    # max_retries: a trial whose worker or node died runs once more before it is reported.
    task = ray.remote(_ray_task).options(num_cpus=executor.cpus_per_trial, num_gpus=executor.gpus_per_trial,
                                         max_retries=1)
    pending = {task.remote(trial.to_json(), refs[trial.dataset]): trial for trial in trials}
    try:
        while pending:
            [ready], _ = ray.wait(list(pending), num_returns=1)
            trial = pending.pop(ready)
            try:
                yield trial, TrialResult(**ray.get(ready))
            except ray.exceptions.RayError as exc:
                from .plugins import one_line

                yield trial, failed(trial, f"the trial's Ray worker failed: {one_line(exc)}")
    finally:  # Ctrl-C or an error: cancel what has not finished
        for ref in pending:
            ray.cancel(ref, force=True)
