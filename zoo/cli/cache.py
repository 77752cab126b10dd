"""``zoo cache info|list|clear``: the feature store, looked at and emptied, as ``pip cache`` does."""

from __future__ import annotations

import json
import time

import click
from rich.markup import escape
from rich.table import Table

from ..training.store import FeatureStore, limit_bytes
from .console import out


def _mb(size: int) -> str:
    return f"{size / 2**20:,.1f} MB"


def entry_row(entry) -> dict:
    key = entry.key
    return {"backbone": key.get("backbone"), "dataset": key.get("dataset"), "split": key.get("split"),
            "images": key.get("images"), "shape": entry.meta.get("shape"), "weights": key.get("weights"),
            "input_size": key.get("input_size"), "cut": key.get("cut"), "pooling": key.get("pooling"),
            "bytes": entry.bytes, "last_used": time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.used)),
            "entry": entry.path.name}


@click.group("cache")
def cache():
    """The feature store: frozen features zoo computed once and reads again (ZOO_CACHE moves it,
    ZOO_CACHE_LIMIT_GB sizes it)."""


@cache.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of the table.")
def info(as_json):
    """Where the store is, how many entries it holds and how large it is."""
    store = FeatureStore()
    entries = store.entries()
    facts = {"location": str(store.root), "entries": len(entries), "bytes": sum(e.bytes for e in entries),
             "limit_bytes": limit_bytes()}
    if as_json:
        return click.echo(json.dumps(facts, indent=2))
    table = Table(title="Feature store", show_header=False)
    table.add_column(justify="right", style="bold")
    table.add_column()
    for name, value in (("location", facts["location"]), ("entries", str(facts["entries"])),
                        ("size", _mb(facts["bytes"])), ("limit", _mb(facts["limit_bytes"]) + " (ZOO_CACHE_LIMIT_GB)")):
        table.add_row(name, escape(value))
    out.print(table)


@cache.command("list")
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of the table.")
def list_entries(pattern, as_json):
    """The entries whose backbone matches PATTERN (wildcards), most recently used first."""
    import fnmatch

    entries = sorted((e for e in FeatureStore().entries() if fnmatch.fnmatchcase(str(e.key.get("backbone")), pattern)),
                     key=lambda e: -e.used)
    rows = [entry_row(e) for e in entries]
    if as_json:
        return click.echo(json.dumps(rows, indent=2))
    table = Table(title=escape(f"Feature store entries ({FeatureStore().root})"))
    for column in ("backbone", "dataset", "split", "images", "shape", "weights", "input", "cut", "size", "last used"):
        table.add_column(column, justify="right" if column in ("images", "input", "size") else "left")
    for row in rows:
        weights = row["weights"] if len(str(row["weights"])) < 20 else str(row["weights"])[:19] + "…"
        table.add_row(*map(escape, (str(row["backbone"]), str(row["dataset"]), str(row["split"]))), str(row["images"]),
                      "x".join(map(str, row["shape"] or [])), escape(str(weights)), str(row["input_size"]),
                      escape(str(row["cut"])), _mb(row["bytes"]), row["last_used"])
    out.print(table)


@cache.command("clear")
@click.argument("pattern", default="*")
def clear(pattern):
    """Remove the entries whose backbone matches PATTERN (default: all of them)."""
    removed = FeatureStore().clear(pattern)
    click.echo(f"Removed {len(removed)} entries ({_mb(sum(e.bytes for e in removed))}).")
