"""The run loop that ``zoo compare`` and ``zoo rank`` share, as optuna runs every study through
one ``_optimize``: the datasets read once, the trials handed to an executor, progress, the
results saved after each trial, failed rows, retries said, and Ctrl-C. What differs between
the commands (which rows they keep, which files they write) comes in as callbacks.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..backbones.checks import check_batch_fits, trial_input_size
from ..core.files import WriteError
from ..core.registry import get_backbone
from ..core.rows import Status
from ..data.datasets import ImageData, check_splits, counts, load
from ..data.sources import ImageFiles, first_few
from ..training.trials import ExecutorOptions, Trial, TrialResult, failed
from .executors import finishing, run_trials

INTERRUPTED = "interrupted (Ctrl-C)"


def load_datasets(trials: list[Trial], console: Console) -> dict[str, ImageData | ImageFiles]:
    """The data of every dataset the trials use, by its text, each read once and its splits
    checked (BadInput when ``--limit`` or ``--val-split`` leaves one empty). For a folder,
    what it holds is said: files skipped as unreadable, and the size its images are decoded at."""
    data = {}
    for trial in trials:
        spec = trial.spec
        if spec.text in data:
            continue
        where = spec.path or spec.data_dir or "Keras's cache, downloading it if needed"
        with console.status(f"{spec.text}: reading {where}..."):  # a download draws Keras's own bar
            data[spec.text] = load(spec)
        check_splits(data[spec.text], spec.text, trial.recipe.val_split, trial.recipe.limit, trial.recipe.batch_size)
    sizes = {}
    for trial in trials:  # each trial's input tensor, before any of them allocates it
        size = trial_input_size(get_backbone(trial.backbone), trial.recipe.input_size, data[trial.dataset].image_shape,
                                trial.recipe.weights)
        check_batch_fits(trial.recipe.batch_size, size, 3, f"a batch for {trial.backbone}")
        sizes.setdefault(trial.dataset, {})[trial.backbone] = size
    for text, found in data.items():
        if isinstance(found, ImageFiles):
            resize = next(t.recipe.resize for t in trials if t.dataset == text)
            for line in files_lines(text, found, sizes[text], resize):
                console.print(escape(line), highlight=False, soft_wrap=True)
    return data


def files_lines(text: str, data: ImageFiles, sizes: dict[str, int], resize: str) -> list[str]:
    """What a folder holds, said before any work: its images, the files skipped (the first few
    named), the size each backbone decodes them at and how, and whether that shrinks them."""
    train, test = counts(data)
    shown = "/".join(map(str, dict.fromkeys(sizes.values()))) + " px"
    lines = [f"{text}: {train + test:,} images ({'grey' if data.grey else 'RGB'}), decoded at {shown} "
             f"(--resize {resize}), a batch at a time."]
    if data.skipped:
        named = first_few([f"{path} ({why})" for path, why in data.skipped])
        lines.append(f"Warning: {text}: {len(data.skipped)} file(s) skipped as unreadable images: {named}. "
                     "--strict stops at them instead.")
    if data.median_size is not None:
        width, height = data.median_size
        smaller = sorted({size for size in sizes.values() if size < min(width, height)})
        if smaller:
            lines.append(f"{text}: the images are about {width}x{height} (median), larger than the "
                         f"{'/'.join(map(str, smaller))} px they are decoded at, and shrunk to it; --input-size "
                         "trains at another size (the GMACs grow with its square).")
    return lines


def run_loop(trials: list[Trial], data: dict, executor: ExecutorOptions, console: Console, *, title: str,
             record, save, label=None, on_interrupted=None, show_progress: bool = True) -> int:
    """Run ``trials`` on ``executor`` and return the exit code: 0, 1 (a trial failed, or a file
    could not be written) or 2 (a trial failed on bad input).

    - ``record(trial, result)`` keeps each finished trial's result, as the command keeps rows;
    - ``save()`` writes the command's files after each trial; a ``WriteError`` is said in one
      line, the rows stay in memory and are written at the next chance;
    - ``label(trial)`` names a trial in messages (default: its backbone);
    - on Ctrl-C the executor ends the running trials, ``on_interrupted(trials)`` gets those that
      had started and not finished, what finished is saved, and KeyboardInterrupt is raised.
    """
    label = label or (lambda trial: trial.backbone)
    code, unsaved = 0, False

    def save_now() -> None:
        nonlocal code, unsaved
        try:
            save()
            unsaved = False
        except WriteError as exc:  # say it, keep the rows, and go on with the others
            console.print(f"[red]Error:[/] {escape(str(exc))} The results stay in memory and are written at the next "
                          "chance.", highlight=False, soft_wrap=True)
            code, unsaved = max(code, 1), True

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, disable=not show_progress) as bar:
        name = executor.name
        overall = bar.add_task(f"{title} ({name})", total=len(trials))
        counts = {"done": 0, "failed": 0}
        begun, running, finished = set(), set(), set()  # trial keys (Ray: begun = handed to Ray)
        busy = "in Ray" if name == "ray" else "running"  # Ray's driver cannot tell running from queued

        def show_counts():
            bar.update(overall, description=f"{title} ({name}): {counts['done']} done, {counts['failed']} failed, "
                       f"{len(running)} {busy}")

        def started(trial):  # under --executor process, called from the executor's threads
            begun.add(trial.key)
            running.add(trial.key)
            show_counts()

        def ended(trial):
            running.discard(trial.key)

        def retried(trial, why):
            console.print(f"[yellow]{escape(label(trial))}: {escape(why)}; running it once more.[/]", highlight=False)

        results = run_trials(trials, data, executor, bar if show_progress else None, say=console.print,
                             started=started, ended=ended, retried=retried)
        try:
            for trial, result in results:
                finished.add(trial.key)
                for note in result.notes:  # said where the trial ran
                    console.print(f"{escape(label(trial))}: {escape(note)}", highlight=False)
                record(trial, result)
                if result.row.status != Status.OK:
                    counts["failed"] += 1
                    console.print(f"[red]{escape(label(trial))} failed:[/] {escape(result.row.error or '')}",
                                  highlight=False)
                    code = 2 if result.bad_input else max(code, 1)
                else:
                    counts["done"] += 1
                    if result.row.error:  # finished, but something of it was lost (its model): said there
                        code = max(code, 1)
                save_now()
                bar.advance(overall)
                show_counts()
        except KeyboardInterrupt:
            with finishing(console.print):  # a second Ctrl-C must not cut the saving short
                results.close()  # the executor ends the trials still running
                if on_interrupted is not None:
                    on_interrupted([t for t in trials if t.key in begun and t.key not in finished])
                save_now()
            raise
    if unsaved:
        save_now()  # one more try: space may have been freed meanwhile
    return code


def interrupted_result(trial: Trial) -> TrialResult:
    """The failed result of a trial Ctrl-C stopped before it finished."""
    return failed(trial, INTERRUPTED)
