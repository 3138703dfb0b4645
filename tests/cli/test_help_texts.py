"""Every ``--help`` describes every flag: walks the whole argparse tree that ``vidquant`` builds."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from vidquant.cli.main import build_parser, main


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("vidquant",), listed: str = "top level"):
    """(command path, parser, one-line help shown in the parent's list) for every (sub-)command, with
    the arguments that a command adds on first use (``add_arguments=``) added."""
    yield path, parser.complete(), listed
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, child in action.choices.items():
                yield from _commands(child, path + (name,), helps.get(name))


COMMANDS = list(_commands(build_parser()))
IDS = [" ".join(path) for path, _, _ in COMMANDS]


def _arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    skip = (argparse._HelpAction, argparse._SubParsersAction)
    return [action for action in parser._actions if not isinstance(action, skip)]


def _expanded_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help text as ``--help`` prints it (``%(default)s`` and friends filled in)."""
    return parser._get_formatter()._expand_help(action)


def _needs_default_note(action: argparse.Action) -> bool:
    flag_only = isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))
    return not (flag_only or action.required or action.default in (None, [], argparse.SUPPRESS))


def test_the_walk_reaches_every_command_module():
    names = {path[1] for path, _, _ in COMMANDS if len(path) > 1}
    assert names >= {"recipes", "demo", "inspect", "compare", "bd", "export", "bench", "uvq", "sci", "codec"}
    assert ("vidquant", "codec", "test") in [path for path, _, _ in COMMANDS]


@pytest.mark.parametrize("path, parser, listed", COMMANDS, ids=IDS)
def test_every_command_has_a_description_and_a_listed_help(path, parser, listed):
    assert parser.description and parser.description.strip(), f"{' '.join(path)} has no description"
    assert listed and listed.strip(), f"{' '.join(path)} has no one-line help in its parent's list"


@pytest.mark.parametrize("path, parser, listed", COMMANDS, ids=IDS)
def test_every_argument_has_help(path, parser, listed):
    missing = [action.option_strings or [action.dest] for action in _arguments(parser)
               if not action.help or action.help == argparse.SUPPRESS or not action.help.strip()]
    assert not missing, f"{' '.join(path)}: no help for {missing}"


@pytest.mark.parametrize("path, parser, listed", COMMANDS, ids=IDS)
def test_every_default_is_stated(path, parser, listed):
    """An option with a default says so in its help (the value comes from the code, not a copy)."""
    silent = [action.option_strings for action in _arguments(parser)
              if _needs_default_note(action) and "default" not in _expanded_help(parser, action)]
    assert not silent, f"{' '.join(path)}: help does not state the default of {silent}"


@pytest.mark.parametrize("path, parser, listed", COMMANDS, ids=IDS)
def test_help_prints(path, parser, listed, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*path[1:], "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for action in _arguments(parser):
        for option in action.option_strings:
            assert option in out


def test_a_mistyped_flag_of_a_subsubcommand_names_the_closest_flag():
    result = subprocess.run(
        [sys.executable, "-m", "vidquant", "codec", "drift", "clip.yuv", "--quant", "q.safetensors", "--reset-interval", "8"],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "vidquant: error: unrecognized arguments: --reset-interval 8 (did you mean: --reset-interval -> --reset_interval?)"
    ]


@pytest.mark.parametrize("argv", [
    ["codec", "test", "--test_config", "c.json"],  # a required flag missing
    ["uvq", "quantize", "--recipe", "int3", "-o", "out"],  # a choice that does not exist
    ["demo", "--quik"],
])
def test_every_parse_error_is_one_line(argv):
    result = subprocess.run([sys.executable, "-m", "vidquant", *argv], capture_output=True, text=True)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("vidquant") and ": error: " in result.stderr
