"""A top-level command that only groups subcommands (``vidquant codec|uvq|sci SUBCOMMAND``)."""

from __future__ import annotations

import argparse


def add_command_group(subparsers: argparse._SubParsersAction, name: str, help: str, description: str) -> argparse._SubParsersAction:
    """Register ``name`` and return the action its subcommands are added to; one is required."""
    parser = subparsers.add_parser(name, help=help, description=description)
    commands = parser.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")
    commands.required = True
    return commands
