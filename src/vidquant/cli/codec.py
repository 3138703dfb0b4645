"""``vidquant codec``: DCVC-RT conformance, encode and decode."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_PACK = Path("..") / "shared" / "conformance" / "dcvc_rt"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("codec", help="DCVC-RT neural video codec on the CPU")
    commands = parser.add_subparsers(dest="codec_command", metavar="SUBCOMMAND")
    commands.required = True

    conformance = commands.add_parser("conformance", help="replay every check of the DCVC-RT conformance pack")
    conformance.add_argument("--pack", type=Path, default=DEFAULT_PACK, help=f"pack folder (default {DEFAULT_PACK})")
    conformance.add_argument("--section", action="append", help="run only this section (repeatable)")
    conformance.add_argument("--verbose", action="store_true", help="print every check")
    conformance.set_defaults(func=run_conformance)


def run_conformance(args: argparse.Namespace) -> int:
    from vidquant.models.codec.conformance import run_conformance as replay

    report = replay(args.pack, tuple(args.section) if args.section else None, progress=True)
    for check in report.checks if args.verbose else report.failed:
        print(f"{'PASS' if check.passed else 'FAIL'} {check.name}: {check.detail}")
    print(report.summary())
    return 0 if not report.failed else 1
