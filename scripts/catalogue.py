"""The catalogue: measure the backbones for their cards, or write the README table.

    python scripts/catalogue.py measure [CLASS...]   # build each, print what its card should say
    python scripts/catalogue.py measure-hub [NAME...]   # the same for the keras-hub cards (zoo[hub])
    python scripts/catalogue.py table [--write-readme]

`measure` builds each keras.applications backbone without weights (all 40 by default) at 32 px,
224 px and its default size, and prints its parameters, zoo's freeze layer (zoo.backbones.layers.last_stage_start
at the default size) and its GMACs (zoo.backbones.cost): the numbers the family files in plugins/ hold.
`measure-hub` builds each keras-hub card (zoo/backbones/hub.py) without weights at every size its card gives
GMACs for, and prints its parameters at the default size, the freeze point zoo's rule places
(zoo.backbones.layers.transformer_freeze_point for tokens, last_stage_start for feature maps) and the GMACs.
`table` prints the README's catalogue table from the registered cards; --write-readme puts it
between the README's markers (tests/backbones/test_catalogue.py fails when the two disagree).
"""

import gc
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(classes):
    import keras

    from zoo.backbones.catalogue_reference import KERAS_TABLE
    from zoo.backbones.cost import gmacs
    from zoo.backbones.layers import freeze_index, last_stage_start

    for name, entry in KERAS_TABLE.items():
        if classes and entry["keras_class"] not in classes:
            continue
        default, row = entry["default_input_size"], {}
        for size in sorted({32, 224, default}):
            if size < (entry["min_size_checked"] or 1):
                continue
            keras.utils.clear_session(free_memory=True)
            gc.collect()
            model = getattr(keras.applications, entry["keras_class"])(include_top=False, weights=None,
                                                                      input_shape=(size, size, 3))
            row[f"gmacs_{size}"], row["params"] = round(gmacs(model), 3), model.count_params()
            if size == default:
                row["freeze_layer"] = last_stage_start(model)
                row["freeze_index"] = freeze_index(model, row["freeze_layer"])
        print(name, json.dumps(row), flush=True)


def measure_hub(names):
    import keras

    import zoo
    from zoo.backbones.cost import gmacs
    from zoo.backbones.layers import last_stage_start, transformer_freeze_point
    from zoo.backbones.model import build_backbone

    for name in names or [n for n in zoo.list_backbones() if zoo.get_backbone(n).requires == "hub"]:
        card, row = zoo.get_backbone(name), {}
        for size in sorted({*card.gmacs, card.default_input_size}):
            keras.utils.clear_session(free_memory=True)
            gc.collect()
            model = build_backbone(card, size, None)  # a layer per block, as zoo uses it
            row[f"gmacs_{size}"] = round(gmacs(model), 3)
            if size == card.default_input_size:
                row["params"] = model.count_params()
                rule = last_stage_start if card.output == "map" else transformer_freeze_point
                row["freeze_layer"] = rule(model)
        print(name, json.dumps(row), flush=True)


def table(write: bool) -> None:
    from zoo.backbones.catalogue import README_BEGIN, README_END, builtin_names, markdown_table

    text = markdown_table(builtin_names())
    if not write:
        print(text)
        return
    readme = ROOT / "README.md"
    content = readme.read_text()
    head, _, rest = content.partition(README_BEGIN)
    _, _, tail = rest.partition(README_END)
    readme.write_text(f"{head}{README_BEGIN}\n{text}\n{README_END}{tail}")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"measure": measure, "measure-hub": measure_hub}.get(command, lambda a: table("--write-readme" in a))(args)
