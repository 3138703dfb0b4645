"""The core commands as a user runs them: recipes, demo, and one-line errors."""

import subprocess
import sys

import pytest

from vidquant.cli.main import main
from vidquant.quant import list_recipes

EXPECTED = [
    "int8-lsq-w", "w8a8-lsq", "w4a8-lsq", "w8a8-static", "dynamic-int8", "weight-only-int8", "fp16", "int4-block128",
    "qsci-w8", "qsci-w4", "qsci-w3", "qsci-w2",
]


def test_recipes_lists_every_builtin_with_a_description(capsys):
    assert main(["recipes"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == EXPECTED
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)


def test_recipes_prints_one_recipe_as_json(capsys):
    assert main(["recipes", "int4-block128"]) == 0
    assert '"block_size": 128' in capsys.readouterr().out


def test_unknown_recipe_is_one_line_with_valid_names():
    result = subprocess.run([sys.executable, "-m", "vidquant", "recipes", "int3"], capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("vidquant recipes: error: unknown recipe 'int3' (did you mean ")
    assert lines[0].endswith("; valid: " + ", ".join(EXPECTED))


def test_demo_reports_every_recipe(capsys):
    assert main(["demo", "--tour", "--distill-steps", "2"]) == 0
    out = capsys.readouterr().out
    for recipe in list_recipes():
        assert f"=== {recipe.name}: " in out
    assert out.count("quantized tensors: ") == len(EXPECTED)
    assert "=== summary" in out


def test_unknown_command_exits_nonzero():
    with pytest.raises(SystemExit) as exit_info:
        main(["quantise"])
    assert exit_info.value.code == 2


def test_mistyped_flag_names_the_closest_valid_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--quik"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --quik (did you mean: --quik -> --quick?)" in capsys.readouterr().err


@pytest.mark.parametrize("argv, hint", [(["expot"], "export"), (["sci", "tabel"], "table"),
                                        (["codec", "test", "--backend", "onx"], "onnx")])
def test_mistyped_command_or_choice_names_the_closest_one(capsys, argv, hint):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.rstrip().endswith(f"(did you mean: {hint}?)")


def test_mistyped_flag_is_named_even_when_a_required_argument_is_missing(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["codec", "encode", "clip.yuv", "-o", "clip.bin", "--qpp", "3"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "required: --qp; unrecognized: --qpp (did you mean: --qpp -> " in err


def test_a_closed_pipe_ends_quietly():
    """`vidquant models | head -1`: no BrokenPipeError traceback once the reader has gone."""
    reader = subprocess.Popen([sys.executable, "-m", "vidquant", "models"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    reader.stdout.readline()
    reader.stdout.close()  # as head does after its line
    _, err = reader.communicate(timeout=120)
    assert reader.returncode in (0, 141) and b"Traceback" not in err and b"BrokenPipe" not in err
