"""``vidquant`` entry point: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from vidquant.errors import VidquantError

# Each module defines ``register(subparsers)`` which adds its parser and sets ``func``.
COMMAND_MODULES: tuple[str, ...] = (
    "vidquant.cli.recipes",
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


if __name__ == "__main__":
    sys.exit(main())
