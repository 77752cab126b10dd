"""``python -m zoo.worker TRIAL.json RESULT.json``: one trial in a fresh process (``--executor process``)."""

import json
import sys
from dataclasses import asdict

from .executors import load_saved_dataset
from .trials import Trial, run_trial


def main(spec_path: str, result_path: str) -> None:
    spec = json.loads(open(spec_path).read())
    result = run_trial(Trial.from_json(spec["trial"]), load_saved_dataset(spec["data"]),
                       say=lambda *a, **k: print(*a, file=sys.stderr))
    with open(result_path, "w") as f:
        json.dump(asdict(result), f)


if __name__ == "__main__":
    main(*sys.argv[1:3])
