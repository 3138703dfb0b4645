"""``vidquant bd ANCHOR.json TEST.json``: BD-rate / BD-PSNR per sequence, per class and overall."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vidquant.io import CodecResults, RDPanel
    from vidquant.metrics import BDTable, RDCurve


def register(subparsers) -> None:
    subparsers.add_parser(
        "bd", help="Bjontegaard deltas between two codec result files",
        description="Reads two DCVC-style result JSON files ({class: {sequence: {rate: {...}}}}) and prints "
                    "BD-rate (%%, negative = TEST saves rate) and BD-PSNR (dB) per sequence, per class "
                    "(mean of its sequences) and overall (mean of class means).",
        add_arguments=_arguments,
    )


def _arguments(parser: argparse.ArgumentParser) -> None:
    from vidquant.metrics.bd import METHODS  # (SciPy)

    parser.add_argument("anchor", type=Path, help="anchor result JSON")
    parser.add_argument("test", type=Path, help="test result JSON")
    parser.add_argument("--method", choices=METHODS, default="pchip",
                        help="pchip (DCVC script, default) or cubic (VCEG-M33 polynomial)")
    parser.add_argument("--metric", default="psnr",
                        help="quality field after 'ave_all_frame_': psnr (default), psnr_y, msssim, ...")
    parser.add_argument("--plot", type=Path, help="write rate-distortion curves to this image (png, pdf, svg)")
    parser.add_argument("--json", type=Path, help="write the BD table to this JSON file")
    parser.set_defaults(func=run)


def curves(results: CodecResults, metric: str, label: str) -> dict[str, dict[str, RDCurve]]:
    """{class: {sequence: RDCurve}} of one result file."""
    from vidquant.metrics import RDCurve

    return {
        group: {seq: RDCurve.of(*results.curve(group, seq, metric), name=f"{label} {group}/{seq}") for seq in seqs}
        for group, seqs in results.points.items()
    }


def run(args: argparse.Namespace) -> int:
    from vidquant.io import load_results, save_rd_plot
    from vidquant.metrics import bd_table

    anchor, test = load_results(args.anchor), load_results(args.test)
    anchor_curves, test_curves = curves(anchor, args.metric, "anchor"), curves(test, args.metric, "test")
    table = bd_table(anchor_curves, test_curves, args.method)
    print_table(table)
    if args.plot:
        labels = (f"anchor: {args.anchor.stem}", f"test: {args.test.stem}")
        save_rd_plot(panels(table, anchor_curves, test_curves, labels), args.plot, ylabel=args.metric.upper())
        print(f"plot: {args.plot}")
    if args.json:
        args.json.write_text(json.dumps(asdict(table), indent=2) + "\n")
    return 0


def print_table(table: BDTable) -> None:
    print(f"{'class/sequence':<48} {'BD-rate %':>10} {'BD-PSNR dB':>11}   ({table.method})")
    for row in table.sequences:
        name = f"{row.group}/{row.sequence}"
        if row.result is None:
            print(f"{name:<48} {'error':>10} {'':>11}   {row.error}")
            continue
        flags = "   " + "; ".join(row.result.flags) if row.result.flags else ""
        print(f"{name:<48} {row.result.bd_rate:>10.3f} {row.result.bd_psnr:>11.4f}{flags}")
    for average in (*table.classes, table.overall):
        if average is not None:
            skipped = f"   ({average.skipped} sequences could not be computed)" if average.skipped else ""
            print(f"{'[' + average.name + ']':<48} {average.bd_rate:>10.3f} {average.bd_psnr:>11.4f}{skipped}")
    for name in table.unmatched:
        print(f"note: {name} is in only one of the files; skipped")


def panels(table: BDTable, anchor, test, labels: tuple[str, str]) -> list[RDPanel]:
    """One panel per compared sequence, anchor and test curves in it."""
    from vidquant.io import RDPanel, RDSeries

    return [
        RDPanel(f"{row.group}/{row.sequence}", [
            RDSeries(label, curves[row.group][row.sequence].rates, curves[row.group][row.sequence].quality)
            for label, curves in zip(labels, (anchor, test))
        ])
        for row in table.sequences
    ]
