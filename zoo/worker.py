"""``python -m zoo.worker TRIAL.json RESULT.json PARENT_PID``: one trial in a fresh process
(``--executor process``). An entry point, like the command line: it imports zoo's modules (and
with them Keras) in ``main``, once it has tied its life to zoo's."""

import json
import os
import signal
import sys
from pathlib import Path


def die_with_parent(parent: int) -> None:
    """End this process when zoo ends, even by kill -9, so no trial trains on for nobody.

    Linux's parent-death signal does it in the kernel (prctl has no Python binding, hence
    ctypes); elsewhere, or if zoo died before this ran, exit when the parent is gone.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def main(spec_path: str, result_path: str) -> None:
    from .core.files import write_text
    from .run.executors import load_saved_dataset
    from .run.runner import run_trial_away
    from .training.trials import Trial

    spec = json.loads(open(spec_path).read())
    result = run_trial_away(Trial.from_json(spec["trial"]), load_saved_dataset(spec["data"]))
    write_text(Path(result_path), json.dumps(result.to_json()))


def _stop(signum, frame):
    raise SystemExit(128 + signum)  # zoo ends a trial with SIGTERM: unwind, so half-written files go


if __name__ == "__main__":
    die_with_parent(int(sys.argv[3]))
    signal.signal(signal.SIGTERM, _stop)
    main(*sys.argv[1:3])
