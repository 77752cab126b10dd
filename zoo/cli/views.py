"""The commands that show what is registered, building nothing or one backbone: ``zoo list``,
``zoo info``, ``zoo layers``, ``zoo plugins``, ``zoo datasets`` and ``zoo heads``."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from .. import backend, plugins
from ..backbones.selection import card_row, select_backbones
from ..core import registry
from ..core.formatting import num
from .console import emit_json, err, out
from .options import selection_options


@click.command("list")
@click.argument("patterns", nargs=-1)
@click.option("--sort", type=click.Choice(["name", "top1", "params", "gmacs"]), default="name", show_default=True,
              help="top1: best ImageNet top-1 first; params, gmacs: cheapest first.")
@selection_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of the table.")
def list_command(patterns, sort, max_params, max_gmacs, as_json):
    """The registered backbones matching PATTERN... (wildcards, like 'efficientnet*'), from their
    cards: nothing is built, so it answers at once (`zoo info NAME` builds one)."""
    rows = [card_row(name) for name in select_backbones(patterns, max_params=max_params, max_gmacs=max_gmacs,
                                                         sort=sort)]
    if as_json:
        return emit_json(rows)
    table = Table(title="Registered backbones", caption="top-1: published ImageNet accuracy (Keras applications "
                  "table; for keras-hub cards their paper's, * a linear probe of frozen features); params without "
                  "the top; GMACs per image at the default input size")
    for column in ("name", "top-1", "params", "GMACs", "min input", "default input", "freeze layer", "pooling",
                   "preprocess", "plugin"):
        table.add_column(column, justify="left" if column in ("name", "plugin", "freeze layer", "pooling",
                                                              "preprocess") else "right")
    for row in rows:
        probe = "*" if row["imagenet_top1_protocol"] == "linear probe" and row["imagenet_top1"] else ""
        plugin = row["plugin"] + (f" (needs {row['needs']})" if row["needs"] else "")
        table.add_row(escape(row["name"]), num(row["imagenet_top1"], ".1%") + probe, num(row["params"], ","),
                      num(row["gmacs"], ".2f"), str(row["min_input_size"]), str(row["default_input_size"]),
                      *map(escape, (row["freeze_layer"] or "(whole backbone)", row["pooling"], row["preprocess"],
                                    plugin)))
    out.print(table)
    if not rows:
        err.print(f"No backbone matches {' '.join(patterns) or '*'} within the limits given.")


@click.command("info")
@click.argument("name")
@click.option("--input-size", type=click.IntRange(min=1), help="Build at this size (default: the card's default "
              "input size).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of the table.")
def info_command(name, input_size, as_json):
    """One backbone's card in full, and what building it at --input-size shows: its freeze
    layer's index, the cut where features are cached, parameters and GMACs."""
    backend.check_backend()  # before Keras is imported
    from ..backbones.listing import card_info

    info = card_info(name, input_size)
    if as_json:
        return emit_json(info)
    table = Table(title=f"{name}", show_header=False)
    table.add_column(justify="right", style="bold")
    table.add_column()
    for key, value in info.items():
        table.add_row(key.replace("_", " "), "-" if value is None else f"{value:,}" if isinstance(value, int)
                      and not isinstance(value, bool) else str(value))
    out.print(table)


@click.command("layers")
@click.argument("name")
@click.option("--input-size", type=click.IntRange(min=1), help="Build at this size (default: the min input size).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of the table.")
def layers_command(name, input_size, as_json):
    """Every layer of backbone NAME, and whether the recommended freeze leaves it trainable."""
    backend.check_backend()  # before Keras is imported
    from ..backbones.listing import layer_table

    size, rows = layer_table(name, input_size)
    card = registry.get_backbone(name)
    if as_json:
        return emit_json(rows)
    table = Table(title=f"{name} at {size}x{size}: layers (recommended freeze: "
                        f"{card.freeze_layer or 'the whole backbone'})")
    for column in ("index", "name", "type", "output shape", "params", "trainable"):
        table.add_column(column, justify="right" if column in ("index", "params") else "left")
    for row in rows:
        table.add_row(str(row["index"]), row["name"], row["type"], row["output_shape"],
                      f"{row['params']:,}", "yes" if row["trainable"] else "[dim]frozen[/]")
    out.print(table)


@click.command("plugins")
@click.option("--check", is_flag=True, help="Also build each backbone (without weights, at its min input size); "
              "a plugin whose backbone fails is broken.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of the table.")
def plugins_command(check, as_json):
    """Every plugin, loaded, partly rejected or broken, and what it registered."""
    if check:
        backend.check_backend()  # before Keras is imported
        from ..backbones.listing import check_plugins  # builds every backbone: Keras only here

        report = check_plugins()
    else:
        report = registry.plugin_report()
    rows = [{"name": p.name, "distribution": p.distribution, "version": p.version,
             "backbones": p.backbones, "datasets": p.datasets, "heads": p.heads,
             "status": p.status, "error": p.error}
            for p in report]
    if as_json:
        return emit_json(rows)
    table = Table(title="Plugins")
    for column in ("name", "distribution", "version", "registers", "status"):
        table.add_column(column)
    for row in rows:
        colour = {"ok": "green", "partial": "yellow"}.get(row["status"], "red")
        status = f"[{colour}]{row['status']}{': ' + escape(row['error']) if row['error'] else ''}[/]"
        registers = "; ".join(f"{kind}: {', '.join(row[kind])}" for kind in ("backbones", "datasets", "heads")
                              if row[kind])
        table.add_row(*map(escape, (row["name"], row["distribution"] or "-", row["version"] or "-", registers or "-")),
                      status)
    out.print(table)


@click.command("datasets")
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of the table.")
def datasets_command(pattern, as_json):
    """The registered datasets matching PATTERN, and what `--data-dir` must hold for each."""
    rows = []
    for name in registry.list_datasets(pattern):
        entry = registry.registrations("dataset")[name]
        card = entry.card
        rows.append({"name": name, "plugin": plugins.provider(entry.plugin), "classes": card.num_classes,
                     "image_shape": "x".join(map(str, card.image_shape)) if card.image_shape else None,
                     "variants": list(card.variants), "argument": "PATH" if card.path_argument else card.argument or None,
                     "download": card.download is not None and not card.generated,
                     "generated": card.generated, "local_files": card.local_files,
                     "description": card.description})
    if as_json:
        return emit_json(rows)
    table = Table(title="Registered datasets (--dataset NAME[:ARG])")
    for column in ("name", "classes", "images", "argument", "download", "--data-dir holds", "description"):
        table.add_column(column, justify="right" if column == "classes" else "left")
    for row in rows:
        argument = row["argument"] or " | ".join(row["variants"]) or "-"
        # Escaped: a card's text is the plugin's, and rich would take "zoo[tfds]" for markup.
        table.add_row(*map(escape, (row["name"], str(row["classes"] or "from files"), row["image_shape"] or "as found",
                                    argument, "generated" if row["generated"] else "yes" if row["download"] else "-",
                                    row["local_files"] or "-", row["description"])))
    out.print(table)


@click.command("heads")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of the table.")
def heads_command(as_json):
    """The registered classifier heads (`zoo compare --head NAME`)."""
    rows = [{"name": name, "plugin": plugins.provider(r.plugin), "description": r.card.description}
            for name, r in registry.registrations("head").items()]
    if as_json:
        return emit_json(rows)
    table = Table(title="Registered heads (after the backbone's pooling)")
    for column in ("name", "plugin", "layers"):
        table.add_column(column)
    for row in rows:
        table.add_row(*map(escape, (row["name"], row["plugin"], row["description"])))
    out.print(table)
