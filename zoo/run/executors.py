"""Where trials run: in this process, in fresh subprocesses, or on a Ray cluster.

zoo schedules nothing itself. ``local`` runs trials one after another; ``process``
hands each to a fresh Python process through a thread pool (a crash or an
out-of-memory kill takes down that trial alone); ``ray`` hands them to Ray, which
places them on a cluster's machines by the resources they ask for. Each executor
calls ``started(trial)`` when a trial starts (for Ray: when it is handed to Ray) and
``ended(trial)`` when it ends, and yields ``(trial, TrialResult)`` as trials finish.
Closing the generator (Ctrl-C) ends the trials still running: no trial outlives the run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.datasets import ImageData
from ..data.sources import ImageFiles
from ..errors import BadInput, one_line
from ..training.trials import EXECUTORS, ExecutorOptions, Trial, TrialResult, failed
from .runner import run_trial, run_trial_away

RAY_ATTEMPTS = 2  # a trial whose Ray worker died runs once more before it is reported failed


def run_trials(trials: list[Trial], datasets: dict, executor: ExecutorOptions, progress=None, say=print,
               started=None, ended=None, retried=None):
    """Yield ``(trial, result)`` for every trial as it finishes; ``datasets`` maps a spec to its data.

    ``started(trial)`` and ``ended(trial)`` are called as each trial starts and ends (before
    its result is yielded), from the executor's threads under ``process``; ``retried(trial, why)``
    when Ray runs a trial again after its worker died.
    """
    events = _Events(started or _ignore, ended or _ignore, retried or (lambda trial, why: None))
    if executor.name == "local":
        yield from _local(trials, datasets, progress, say, events)
    elif executor.name == "process":
        yield from _processes(trials, datasets, executor.jobs, events, say)
    elif executor.name == "ray":
        yield from _ray(trials, datasets, executor, events, say)
    else:
        raise BadInput(f"unknown executor {executor.name!r}; use one of {', '.join(EXECUTORS)}.")


def _ignore(trial):
    pass


@contextmanager
def finishing(say):
    """While zoo ends the running trials and saves what finished (after a Ctrl-C), another
    Ctrl-C is said, not obeyed: obeying it would leave trial processes behind and lose rows."""
    def again(signum, frame):
        say("Interrupted again: stopping once the running trials have ended and the finished results "
            "are saved (a few seconds).")

    try:
        previous = signal.signal(signal.SIGINT, again)
    except ValueError:  # not the main thread (zoo.compare called from a worker thread): nothing to guard
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class _Events:
    started: object
    ended: object
    retried: object  # retried(trial, why): a trial runs again after its worker died


def _local(trials, datasets, progress, say, events):
    for trial in trials:  # run_backbone clears the Keras session before each
        events.started(trial)
        result = run_trial(trial, datasets[trial.dataset], progress, say)
        events.ended(trial)
        yield trial, result


# --- process: one fresh Python per trial -------------------------------------------------

def _save_dataset(data, folder: Path, number: int) -> Path:
    """The dataset as the trial processes read it: files as their description (JSON: each process
    reads the images itself), arrays as an .npz (memory-mapped arrays, no pickle). Named by its
    ``number`` in the run: two datasets may share a loader's name (one tfds dataset's splits)."""
    stem = folder / f"dataset-{number}"
    if isinstance(data, ImageFiles):
        path = stem.with_suffix(".json")
        path.write_text(json.dumps(data.to_json()))
        return path
    path = stem.with_suffix(".npz")
    np.savez(path, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test,
             class_names=np.array(data.class_names, dtype=str), meta=np.array([data.name, data.source, data.note]))
    return path


def load_saved_dataset(path) -> ImageData | ImageFiles:
    """The dataset ``_save_dataset`` wrote, as a trial process reads it."""
    if str(path).endswith(".json"):
        return ImageFiles.from_json(json.loads(Path(path).read_text()))
    with np.load(path, allow_pickle=False) as files:
        name, source, note = (str(v) for v in files["meta"])
        return ImageData(name, files["x_train"], files["y_train"], files["x_test"], files["y_test"],
                         [str(c) for c in files["class_names"]], source, note)


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class _Children:
    """The trial processes alive now, so that an interrupted run can end them with it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running: set[subprocess.Popen] = set()
        self.stopping = False

    def start(self, command) -> subprocess.Popen | None:
        """The started process, or None once the run is stopping."""
        with self.lock:
            if self.stopping:
                return None
            child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            self.running.add(child)
            return child

    def finished(self, child: subprocess.Popen) -> None:
        with self.lock:
            self.running.discard(child)

    def stop_all(self) -> None:
        """Start no more, and end those running (SIGTERM, then SIGKILL if one lingers)."""
        with self.lock:
            self.stopping = True
            running = list(self.running)
        for child in running:
            child.terminate()
        for child in running:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def _in_subprocess(trial: Trial, data_path: Path, work: Path, children: _Children, events) -> TrialResult:
    spec, result = work / f"{trial.slug}.trial.json", work / f"{trial.slug}.result.json"
    spec.write_text(json.dumps({"trial": trial.to_json(), "data": str(data_path)}))
    result.unlink(missing_ok=True)
    child = children.start([sys.executable, "-m", "zoo.worker", str(spec), str(result), str(os.getpid())])
    if child is None:
        return failed(trial, "not started: the run was interrupted")
    events.started(trial)
    try:
        _, stderr = child.communicate()
    finally:
        children.finished(child)
        events.ended(trial)
    if child.returncode == 0 and result.is_file():
        return TrialResult.from_json(json.loads(result.read_text()))
    if child.returncode < 0:
        return failed(trial, f"the trial's process was killed by {_signal_name(child.returncode)}")
    # A Python error's last line says what it was; anything else on stderr is backend chatter.
    why = stderr.strip().splitlines()[-1][:300] if "Traceback" in stderr else "no result reported"
    return failed(trial, f"the trial's process exited with code {child.returncode}: {why}")


def _processes(trials, datasets, jobs: int, events, say):
    if not trials:
        return
    # This run's own scratch folder (another run's cleanup can never remove it).
    work = Path(tempfile.mkdtemp(prefix="zoo-work-"))
    saved = {spec: _save_dataset(data, work, number) for number, (spec, data) in enumerate(datasets.items())}
    children = _Children()
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures = {pool.submit(_in_subprocess, trial, saved[trial.dataset], work, children, events): trial
               for trial in trials}
    try:
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:  # Ctrl-C or an error: start no more, end the running ones, then clean up
        with finishing(say):
            pool.shutdown(wait=False, cancel_futures=True)
            children.stop_all()
            pool.shutdown(wait=True)
            shutil.rmtree(work, ignore_errors=True)


# --- ray: trials as Ray tasks ---------------------------------------------------------------

def _ray_task(trial_json: dict, data) -> dict:
    """What a Ray worker runs: the trial, with the dataset from Ray's object store."""
    return run_trial_away(Trial.from_json(trial_json), data).to_json()


def _ray(trials, datasets, executor: ExecutorOptions, events, say):
    try:
        import ray
    except ImportError:
        raise BadInput("--executor ray needs Ray: pip install 'zoo[ray]' (or pip install ray).") from None
    started_here = not ray.is_initialized()
    reaper = None
    if started_here:
        ray.init(address=executor.address, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {k: v for k, v in os.environ.items()
                                           if k.startswith(("KERAS_", "ZOO_", "MLFLOW_"))}})
        if executor.address is None:  # a local instance, zoo's own: it must not outlive zoo
            reaper = _reaper()
    # Each dataset goes into the object store once; every trial reads it from there. A folder
    # goes as its description (paths and labels): each worker reads the images from the same path.
    refs = {spec: ray.put(data) for spec, data in datasets.items()}
    # zoo retries a trial whose worker or node died once itself (not Ray's max_retries), so
    # that the retry shows in the progress and the row.
    task = ray.remote(_ray_task).options(num_cpus=executor.cpus_per_trial, num_gpus=executor.gpus_per_trial,
                                         max_retries=0)
    pending = {task.remote(trial.to_json(), refs[trial.dataset]): (trial, 1) for trial in trials}
    for trial in trials:  # Ray starts them as resources free up; the driver cannot tell when
        events.started(trial)
    try:
        while pending:
            [ready], _ = ray.wait(list(pending), num_returns=1)
            trial, attempt = pending.pop(ready)
            try:
                result = TrialResult.from_json(ray.get(ready))
            except ray.exceptions.RayError as exc:
                why = f"the trial's Ray worker failed: {one_line(exc)}"
                if attempt < RAY_ATTEMPTS:
                    events.retried(trial, why)
                    pending[task.remote(trial.to_json(), refs[trial.dataset])] = (trial, attempt + 1)
                    continue
                result = failed(trial, why if attempt == 1 else f"{why} (on each of {attempt} attempts)")
            result.row.attempts = attempt
            events.ended(trial)
            yield trial, result
    finally:  # Ctrl-C or an error: cancel what has not finished; a Ray zoo started goes with it
        with finishing(say):
            for ref in pending:
                ray.cancel(ref, force=True)
            if started_here:
                ray.shutdown()
            if reaper is not None:
                reaper.terminate()


def _reaper() -> subprocess.Popen:
    """A watcher that ends the processes this run started (Ray's) if zoo is killed (zoo/run/reaper.py)."""
    return subprocess.Popen([sys.executable, "-m", "zoo.run.reaper", str(os.getpid())], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
