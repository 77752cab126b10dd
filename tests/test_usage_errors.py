"""Every usage error is one line and exit code 2 (#24), as the README promises: for every option of
every command that the docs document (the same walk as tests/test_docs.py), a sample of bad
values, an option given without its value, and an option that does not exist.

Each is refused while click parses the command line, before any work, so these run in process
and take about a second in all.
"""

import click
import pytest

from .test_docs import _id, commands

NOT_A_NUMBER = "x1"


def bad_values(option: click.Option) -> list[str]:
    """Values the option's type (or its callback) refuses; none for flags and free text."""
    kind = option.type
    values = []
    if isinstance(kind, click.Choice):
        values.append("nosuch")
    if isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        values.append(NOT_A_NUMBER)
        if isinstance(kind, click.types._NumberRangeBase) and kind.min is not None:
            values.append(str(kind.min - 1))
    if isinstance(kind, click.Path) and kind.exists:
        values.append("/no/such/file.json")
    if kind.name == "devices":  # zoo.core.recipe's --devices: N or all
        values.append("some")
    if option.name == "output" and option.callback is not None:  # zoo bench --output: .json or .csv
        values.append("rows.txt")
    if option.name == "backends":
        values.append("theano")
    return values


def takes_a_value(option: click.Option) -> bool:
    """Whether the option needs a value after it (not a flag, nor --mlflow's optional URI)."""
    return not option.is_flag and not getattr(option, "_flag_needs_value", False)


def cases():
    for path, command in commands():
        if isinstance(command, click.Group) and path != ("bench",):
            continue  # a group with no options of its own but --help (zoo bench runs its default)
        for param in command.params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            flag = max(param.opts, key=len)
            for value in bad_values(param):
                yield pytest.param(path, [flag, value], id=f"{_id(path)}-{flag}={value}")
            if takes_a_value(param):
                yield pytest.param(path, [flag], id=f"{_id(path)}-{flag}-without-a-value")
        yield pytest.param(path, ["--nosuch"], id=f"{_id(path)}---nosuch")


@pytest.mark.parametrize("path, args", list(cases()))
def test_a_usage_error_is_one_line_and_exit_2(run_zoo, path, args):
    result = run_zoo(*path, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    assert "Usage:" not in lines[0] and "Traceback" not in lines[0]


def test_every_command_is_sampled():
    sampled = {values[0] for values in [case.values for case in cases()]}
    walked = {path for path, command in commands() if not isinstance(command, click.Group) or path == ("bench",)}
    assert walked <= sampled
