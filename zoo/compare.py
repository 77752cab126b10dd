"""``zoo compare``: run the grid of trials on an executor, never losing finished results."""

from __future__ import annotations

import json

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .datasets import ImageData, load_dataset
from .errors import BadInput
from .executors import ExecutorOptions, run_trials
from .harness import CompareOptions, Splits
from .report import write_results
from .trials import failed, grid


def load_data(spec: str, data_dir, console: Console) -> ImageData:
    """``--dataset spec`` from ``data_dir``, or from Keras's cache or download (Keras draws its bar)."""
    where = data_dir or "Keras's cache, downloading it if needed"
    with console.status(f"{spec}: reading {where}..."):
        return load_dataset(spec, data_dir)


def _check_splits(spec: str, data: ImageData, options: CompareOptions, limit) -> None:
    splits = Splits.from_data(data, options.val_split, limit)
    if len(splits.x_train) == 0 or len(splits.x_val) == 0 or len(splits.x_test) == 0:
        raise BadInput(f"{spec}: {len(splits.x_train)} train, {len(splits.x_val)} validation and "
                       f"{len(splits.x_test)} test images: raise --limit or change --val-split so that none is empty.")


def earlier_run(output) -> tuple[list[dict], dict[str, dict]]:
    """The rows and learning curves an earlier run left in ``output`` (none when it left nothing)."""
    def read(path, empty):
        try:
            return json.loads(path.read_text()) if path.is_file() else empty
        except json.JSONDecodeError as exc:
            raise BadInput(f"{path} is not valid JSON ({exc.msg}): move it away to run every trial again, "
                           "or resume into another --output folder.") from None

    earlier, histories = read(output / "results.json", []), read(output / "histories.json", {})
    for row in earlier:  # rows from a zoo before trials had keys were one-seed runs
        row.setdefault("seed", 0)
        row.setdefault("trial", f"{row['backbone']}|{row['dataset']}|seed {row['seed']}")
    return earlier, histories


def compare(cards, options: CompareOptions, data_dir=None, limit=None, console=None, *, datasets=None,
            seeds=None, executor: ExecutorOptions | None = None, resume=False, plugins=(), recipes=None):
    """Run every card x dataset x seed under ``options``; returns the result rows and the exit code.

    Results are written after each trial. A trial that fails gets a failed row and the
    others go on (exit code 1, or 2 when the failure was bad input); Ctrl-C keeps what
    finished (exit code 130). With ``resume``, trials that finished ``ok`` in the output
    folder under the same recipe are not run again, and every earlier row is kept.
    """
    console = console or Console(stderr=True)
    executor = executor or ExecutorOptions()
    datasets, seeds = list(datasets or [options.dataset]), list(seeds or [options.seed])
    trials = grid([card.name for card in cards], datasets, seeds, options, data_dir=data_dir, limit=limit,
                  plugins=plugins, recipes=recipes)
    earlier, histories = earlier_run(options.output) if resume else ([], {})
    recipe = {t.key: t.recipe for t in trials}
    earlier_ok = [r for r in earlier if r.get("status") == "ok" and r.get("trial") in recipe]
    # A row with no recipe comes from a zoo that did not record one: taken as done, as it was then.
    done = {r["trial"] for r in earlier_ok if r.get("recipe") in (None, recipe[r["trial"]])}
    todo = [t for t in trials if t.key not in done]
    if resume:
        console.print(f"Resuming: {len(done)} of {len(trials)} trials already done in {options.output}/.")
        changed = len(earlier_ok) - len(done)
        if changed:
            console.print(f"{changed} finished trial(s) there ran under other options: running them again.")
    # Every earlier row stays (other seeds, datasets or backbones too), except those run again.
    rerun = {t.key for t in todo}
    rows = [r for r in earlier if r.get("trial") not in rerun]
    histories = {key: h for key, h in histories.items() if key not in rerun}
    data = {}
    for spec, folder in dict.fromkeys((t.dataset, t.data_dir) for t in todo):  # each dataset read once
        data[spec] = load_data(spec, folder, console)
        _check_splits(spec, data[spec], options, limit)

    label = (lambda t: t.backbone) if len(datasets) == 1 and len(seeds) == 1 else \
        (lambda t: f"{t.backbone} {t.dataset} seed {t.seed}")
    code = 0
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console) as progress:
        overall = progress.add_task(f"trials ({executor.name})", total=len(todo))
        counts = {"done": 0, "failed": 0}
        begun, running, finished = set(), set(), set()  # trial keys (Ray: started = handed to Ray)
        # Under Ray the driver cannot tell a running trial from a queued one.
        busy = "in Ray" if executor.name == "ray" else "running"

        def show_counts():
            progress.update(overall, description=f"trials ({executor.name}): {counts['done']} done, "
                            f"{counts['failed']} failed, {len(running)} {busy}")

        def started(trial):  # under --executor process, called from the executor's threads
            begun.add(trial.key)
            running.add(trial.key)
            show_counts()

        def ended(trial):
            running.discard(trial.key)

        results = run_trials(todo, data, executor, progress, say=console.print, started=started, ended=ended)
        try:
            for trial, result in results:
                finished.add(trial.key)
                rows.append(result.row)
                histories[trial.key] = result.history
                if result.row["status"] != "ok":
                    counts["failed"] += 1
                    console.print(f"[red]{label(trial)} failed:[/] {result.row['error']}", highlight=False)
                    code = 2 if result.bad_input else max(code, 1)
                else:
                    counts["done"] += 1
                write_results(rows, histories, options.output)
                progress.advance(overall)
                show_counts()
        except KeyboardInterrupt:
            results.close()  # the executor ends the trials still running
            # The trials that had started and not reported get a failed row; those never started get none.
            rows += [failed(trial, "interrupted (Ctrl-C)").row for trial in todo
                     if trial.key in begun and trial.key not in finished]
            write_results(rows, histories, options.output)
            console.print(f"Interrupted: results so far are in {options.output}/")
            return rows, 130
    return rows, code
