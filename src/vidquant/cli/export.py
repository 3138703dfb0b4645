"""``vidquant export``: a model or quantized checkpoint as an ONNX Q/DQ graph."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    subparsers.add_parser(
        "export", help="export a (quantized) model to ONNX with integer Q/DQ numerics",
        description="Write a registered model (quantized with --recipe, PTQ on random inputs, or loaded with "
                    "--quant) or a vidquant checkpoint as an ONNX QuantizeLinear/DequantizeLinear graph whose "
                    "integer numerics match the PyTorch fake quantization.",
        add_arguments=_arguments,
    )


def _arguments(parser: argparse.ArgumentParser) -> None:
    from vidquant.cli.model_args import add_model_arguments
    from vidquant.export import ACTIVATION_TYPES

    add_model_arguments(parser)
    parser.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    parser.add_argument(
        "--activation-type", choices=ACTIVATION_TYPES, default="uint8",
        help="integer type of activation codes (uint8: fast U8S8 kernels on x86; default uint8)",
    )
    parser.add_argument("--report", action="store_true", help="print which nodes ONNX Runtime runs in integer and which stay float")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vidquant.cli.model_args import load_model
    from vidquant.export import export_onnx

    _, model, inputs = load_model(args)
    result = export_onnx(model, inputs, args.output, activation_type=args.activation_type)
    print(f"wrote {result.path} ({result.size_bytes:,} bytes, opset {result.opset}, {result.activation_type} activations)")
    for note in result.notes:
        print(f"note: {note}")
    if args.report:
        from vidquant.runtime.deployability import deployability_report

        print(deployability_report(result.path).format())
    return 0
