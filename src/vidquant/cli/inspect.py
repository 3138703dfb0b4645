"""``vidquant inspect FILE``: the report of a saved quantized model."""

from __future__ import annotations

import argparse
import json

from vidquant.errors import VidquantError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect", help="print the report of a quantized checkpoint",
        description="Load a vidquant .safetensors checkpoint into the registered model it names and print the "
                    "per-layer report (bits, granularity, weight SQNR, step sizes; coverage and packed size).",
    )
    parser.add_argument("file", help="a .safetensors file written by vidquant")
    parser.add_argument("--json", metavar="OUT", help="also write the report as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vidquant.analysis import report
    from vidquant.models import create_model
    from vidquant.quant.checkpoint import load_quantized, read_header

    header = read_header(args.file)
    if header["model"] is None:
        raise VidquantError(
            f"{args.file} names no registered model; load it in Python with "
            "vidquant.load_quantized(model, path) and call vidquant.report(model)"
        )
    model = load_quantized(create_model(header["model"]["name"], **header["model"]["kwargs"]), args.file)
    result = report(model)
    print(f"{args.file}: model {header['model']['name']}")
    print(result.format())
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result.to_dict(), handle, indent=2)
    return 0
