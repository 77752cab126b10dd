"""``zoo compare``: run the protocol over several backbones, never losing finished results."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import cifar10
from .errors import BadInput, ZooError
from .harness import CompareOptions, Splits, failed_row, run_backbone
from .plugins import one_line
from .report import write_results


def load_data(data_dir, console: Console) -> cifar10.ImageData:
    if data_dir is not None:
        return cifar10.load_local(data_dir)
    with console.status("CIFAR-10: looking in Keras's cache, downloading it if needed..."):
        return cifar10.load_keras_cache()


def compare(cards, options: CompareOptions, data_dir=None, limit=None, console=None):
    """Train every card under ``options``; returns the result rows and the exit code.

    Results are written after each backbone. A backbone that fails gets a failed row
    and the others go on (exit code 1, or 2 when the failure was bad input); Ctrl-C
    keeps what finished (exit code 130).
    """
    console = console or Console(stderr=True)
    splits = Splits.from_data(load_data(data_dir, console), options.val_split, limit)
    if len(splits.x_train) == 0 or len(splits.x_val) == 0 or len(splits.x_test) == 0:
        raise BadInput(f"{len(splits.x_train)} train, {len(splits.x_val)} validation and {len(splits.x_test)} "
                       "test images: raise --limit or change --val-split so that none is empty.")
    rows, histories, code = [], {}, 0
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console) as progress:
        overall = progress.add_task("backbones", total=len(cards))
        for card in cards:
            try:
                outcome = run_backbone(card, splits, options, progress, say=console.print)
                rows.append(outcome.row)
                histories[card.name] = outcome.history
            except KeyboardInterrupt:
                rows.append(failed_row(card.name, options, "interrupted (Ctrl-C)"))
                write_results(rows, histories, options.output)
                console.print(f"Interrupted: results so far are in {options.output}/")
                return rows, 130
            except Exception as exc:  # one backbone failing must not lose the others
                error = str(exc) if isinstance(exc, ZooError) else one_line(exc)
                rows.append(failed_row(card.name, options, error))
                console.print(f"[red]{card.name} failed:[/] {error}", highlight=False)
                code = 2 if isinstance(exc, BadInput) else max(code, 1)
            write_results(rows, histories, options.output)
            progress.advance(overall)
    return rows, code
