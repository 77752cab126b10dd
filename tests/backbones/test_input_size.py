"""--input-size below a backbone's minimum: the same one line (exit code 2) in compare, layers and bench."""

import pytest
from click.testing import CliRunner

from zoo.backbones.checks import check_input_size
from zoo.core.registry import get_backbone
from zoo.errors import BadInput

MESSAGE = "input size 7 is below vgg16's minimum of 32; use --input-size 32 or more."


def test_check_input_size():
    card = get_backbone("vgg16")
    check_input_size(card, 32)
    with pytest.raises(BadInput) as info:
        check_input_size(card, 7)
    assert str(info.value) == MESSAGE


@pytest.mark.parametrize("args", [
    ["layers", "vgg16", "--input-size", "7"],
    ["bench", "vgg16", "--input-size", "7", "--steps", "1", "--warmup", "0"],
    ["bench", "resnet50", "vgg16", "--input-size", "7", "--json"],  # resnet50's minimum is 32 too: named first
])
def test_a_too_small_input_size_is_one_line_and_exit_2(args):
    from zoo.cli import cli

    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    name = args[1]
    assert result.stderr == f"Error: {MESSAGE.replace('vgg16', name)}\n"
    assert result.stdout == ""  # bench timed nothing, so printed no table
