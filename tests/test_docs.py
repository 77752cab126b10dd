"""Docs that cannot drift (#13): every plugin hook, command and option is documented.

As datasette's ``tests/test_docs.py`` does for its plugin hooks, the lists come from the
code (``zoo/hookspecs.py`` and the click group ``zoo.cli.cli``, walked at collection time,
subcommands of groups included) and each item is its own test, so a missing one fails
under its own id: ``test_command_documented[bench-compare]``,
``test_option_documented[compare---overwrite]``.

The docs are README.md and every ``*.md`` under docs/. What counts as documented:

- a hook: its name, and its call with the spec's arguments (``register_heads(register)``),
  anywhere in the docs;
- a command: ``zoo`` followed by its path (``zoo list``, ``zoo bench compare``) anywhere in
  the docs;
- an option: its long name (``--overwrite``) in a section that documents its command, a
  section being the text under a Markdown heading of any level up to the next heading, and
  documenting the command if it names it as above (``zoo compare ...`` in prose, a table or a
  code block). So a ``--json`` under "## Commands" counts for every command that table names,
  but a ``--json`` that only the ``zoo bench`` section of docs/benchmarks.md mentions does
  not count for ``zoo compare``. The top-level group's options (``zoo --plugin``) count
  anywhere. Every long name of an option is required; of a ``--flag/--no-flag`` pair, the
  names that do something the default does not (``--no-preprocess`` when the default is on,
  both ``--jit`` and ``--no-jit`` when the default is neither). ``--help`` and hidden options
  are not required.

Importing ``zoo.cli`` imports no Keras backend, and nothing here builds a model or starts a
process, so these tests take well under a second.
"""

import inspect
import re
from functools import lru_cache
from pathlib import Path

import click
import pytest

from zoo import hookspecs
from zoo.cli import cli

ROOT = Path(__file__).parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
HEADING = re.compile(r"^#{1,6}\s")
FENCE = re.compile(r"^\s*(```|~~~)")


@lru_cache(maxsize=None)
def sections() -> tuple[tuple[str, str], ...]:
    """(``file: heading``, text) for each Markdown section of the docs; ``#`` lines inside
    fenced code blocks are code, not headings."""
    found = []
    for path in DOC_FILES:
        title, lines, fenced = f"{path.relative_to(ROOT)}: (top)", [], False
        for line in path.read_text(encoding="utf-8").splitlines():
            if FENCE.match(line):
                fenced = not fenced
            if not fenced and HEADING.match(line):
                found.append((title, "\n".join(lines)))
                title, lines = f"{path.relative_to(ROOT)}: {line.strip()}", []
            lines.append(line)
        found.append((title, "\n".join(lines)))
    return tuple(found)


def all_docs() -> str:
    return "\n".join(text for _, text in sections())


def names_command(path: tuple[str, ...]):
    """A regex for ``zoo <path>`` as a command line would spell it."""
    words = r"\s+".join(re.escape(word) for word in ("zoo", *path))
    return re.compile(rf"(?<![\w.-]){words}(?![\w-])")


def names_option(option: str):
    return re.compile(rf"(?<![\w-]){re.escape(option)}(?![\w-])")


# -- What the code has -------------------------------------------------------------------------

def hooks() -> dict[str, list[str]]:
    """Each ``@hookspec`` function of zoo/hookspecs.py and its argument names."""
    marker = f"{hookspecs.hookspec.project_name}_spec"
    return {name: list(inspect.signature(func).parameters)
            for name, func in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(func, marker)}


def commands(command: click.Command = cli, path: tuple[str, ...] = ()):
    """(path, command) for the group and every command under it, depth first; through
    ``list_commands``/``get_command`` so that lazily loaded subcommands are walked too."""
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command, info_name=" ".join(("zoo", *path)))
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from commands(sub, (*path, name))


def required_names(option: click.Option) -> list[str]:
    """The long names of an option that the docs must give (see the module's docstring)."""
    names = [name for name in option.opts if name.startswith("--")]
    if option.secondary_opts:  # --flag/--no-flag: the names that differ from the default
        negative = [name for name in option.secondary_opts if name.startswith("--")]
        names = (names if option.default is not True else []) + (negative if option.default is not False else [])
    return [name for name in names if name != "--help"]


def options():
    """(path, option name) for every documented-to-be option of every command."""
    for path, command in commands():
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for name in required_names(param):
                    yield path, name


def _id(path) -> str:
    return "-".join(path) or "zoo"


HOOKS = sorted(hooks().items())
COMMANDS = [path for path, _ in commands() if path]
OPTIONS = list(options())


def test_the_walk_finds_what_it_should():
    """Guards the lists the tests below are made from: an empty list would pass them all."""
    assert {"register_backbones", "register_datasets", "register_heads"} <= {name for name, _ in HOOKS}
    assert {("list",), ("compare",), ("bench",)} <= set(COMMANDS)
    assert {(("compare",), "--overwrite"), (("compare",), "--no-preprocess"), ((), "--plugin")} <= set(OPTIONS)
    assert any(path[0] == "bench" and name == "--no-jit" for path, name in OPTIONS if path)  # a tri-state pair
    assert (("compare",), "--preprocess") not in OPTIONS  # the default: nothing to document
    assert all(name != "--help" for _, name in OPTIONS)
    assert len(sections()) > 10


@pytest.mark.parametrize("hook,arguments", HOOKS, ids=[name for name, _ in HOOKS])
def test_hook_documented(hook, arguments):
    docs = all_docs()
    assert re.search(rf"\b{hook}\b", docs), f"the hook {hook} is not named in README.md or docs/"
    call = f"{hook}({', '.join(arguments)})"
    assert call in docs, f"the docs never show the hook as {call}"


@pytest.mark.parametrize("path", COMMANDS, ids=[_id(path) for path in COMMANDS])
def test_command_documented(path):
    command = " ".join(("zoo", *path))
    assert names_command(path).search(all_docs()), f"`{command}` is not in README.md or docs/*.md"


@pytest.mark.parametrize("path,option", OPTIONS, ids=[f"{_id(path)}-{option}" for path, option in OPTIONS])
def test_option_documented(path, option):
    command = " ".join(("zoo", *path))
    if not path:  # the group's own options
        assert names_option(option).search(all_docs()), f"`{command} {option}` is not in README.md or docs/"
        return
    documenting = [(title, text) for title, text in sections() if names_command(path).search(text)]
    assert documenting, f"no section of README.md or docs/ names `{command}`"
    assert any(names_option(option).search(text) for _, text in documenting), (
        f"{option} of `{command}` is in none of the sections that name the command: "
        + "; ".join(title for title, _ in documenting))
