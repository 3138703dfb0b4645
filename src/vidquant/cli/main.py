"""``vidquant`` entry point: one sub-command per module in this package.

Building the parser imports no torch, ONNX, matplotlib, SciPy or model family, so that
``vidquant --help`` and ``vidquant recipes`` start fast: each command imports what it needs in its
run function. A (sub-)command whose arguments need such a module (defaults or choices defined
beside torch code, the list of registered models) passes ``add_arguments=`` to ``add_parser``:
those arguments are added when that command is parsed or its help is printed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from typing import Callable, Optional, Sequence

from vidquant.errors import VidquantError
from vidquant.registry import closest_names

# Each module defines ``register(subparsers)`` which adds its parser and sets ``func``.
COMMAND_MODULES: tuple[str, ...] = (
    "vidquant.cli.recipes",
    "vidquant.cli.models",
    "vidquant.cli.demo",
    "vidquant.cli.inspect",
    "vidquant.cli.compare",
    "vidquant.cli.bd",
    "vidquant.cli.export",
    "vidquant.cli.bench",
    "vidquant.cli.uvq",
    "vidquant.cli.sci",
    "vidquant.cli.codec",
)


class _Parser(argparse.ArgumentParser):
    """argparse with a 'did you mean' for mistyped flags; every parse error is one line, exit 2.

    ``add_arguments(parser)``, when given, adds the arguments on first use (see the module doc).
    """

    def __init__(self, *args, add_arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._add_arguments = add_arguments

    def complete(self) -> "_Parser":
        """Add the deferred arguments, once; every use of the parser's arguments calls this first."""
        if self._add_arguments is not None:
            add_arguments, self._add_arguments = self._add_arguments, None
            add_arguments(self)
        return self

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self.complete()
        # Kept for error(): argparse reports missing required arguments before unknown flags.
        self._arg_words = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self.complete()
        return super().format_usage()

    def format_help(self) -> str:
        self.complete()
        return super().format_help()

    def error(self, message: str) -> None:  # type: ignore[override]
        if message.startswith("unrecognized arguments:"):
            message += _flag_hints(message.split(":", 1)[1].split(), _flags(self))
        elif message.startswith("the following arguments are required:"):
            flags = _flags(self)
            unknown = [word for word in getattr(self, "_arg_words", []) if word.startswith("--")
                       and word.split("=")[0] not in flags]
            if unknown:
                message += f"; unrecognized: {' '.join(unknown)}" + _flag_hints(unknown, flags)
        message += _choice_hint(message)
        self.exit(2, f"{self.prog}: error: {message}\n")  # no usage block: `--help` has it


def _flag_hints(words: list[str], flags: list[str]) -> str:
    """' (did you mean: --x -> --y?)' for the words that are close to a valid flag."""
    hints = []
    for word in words:
        near = closest_names(word.split("=")[0], flags, n=1) if word.startswith("-") else []
        if near:
            hints.append(f"{word} -> {near[0]}")
    return f" (did you mean: {', '.join(hints)}?)" if hints else ""


def _choice_hint(message: str) -> str:
    """' (did you mean: X?)' for argparse's "invalid choice: 'Y' (choose from ...)" (commands and
    choice flags), when a choice is close to what was typed."""
    match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
    if match is None:
        return ""
    near = closest_names(match.group(1), re.findall(r"'([^']*)'", match.group(2)), n=1)
    return f" (did you mean: {near[0]}?)" if near else ""


def _flags(parser: _Parser) -> list[str]:
    """Option strings of a parser and all its sub-command parsers (their deferred ones too), but help."""
    return sorted(_all_flags(parser) - {"-h", "--help"})


def _all_flags(parser: _Parser) -> set[str]:
    flags = {option for action in parser.complete()._actions for option in action.option_strings}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                flags |= _all_flags(child)
    return flags


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vidquant",
        description="Quantize neural video models and measure the quality they keep.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except VidquantError as error:
        print(f"vidquant {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vidquant {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`vidquant models | head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 141


if __name__ == "__main__":
    sys.exit(main())
