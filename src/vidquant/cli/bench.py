"""``vidquant bench MODEL``: latency and size of PyTorch / ONNX Runtime (/ OpenVINO) backends, side by side."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEFAULT_RECIPE = "w8a8-lsq"
CALIBRATION_BATCHES = 4


def register(subparsers: argparse._SubParsersAction) -> None:
    subparsers.add_parser(
        "bench", help="time PyTorch and ONNX Runtime backends of a model side by side",
        description="Latency and size of a model's FP32 and INT8 forms on PyTorch and ONNX Runtime (and OpenVINO "
                    f"when installed), side by side. A model name without --recipe or --quant uses --recipe {DEFAULT_RECIPE}.",
        add_arguments=_arguments,
    )


def _arguments(parser: argparse.ArgumentParser) -> None:
    from vidquant.cli.model_args import add_model_arguments
    from vidquant.export import ACTIVATION_TYPES
    from vidquant.runtime.backends import INT8_PATHS

    add_model_arguments(parser)
    parser.add_argument("--threads", type=int, help="threads for PyTorch and ONNX Runtime alike (default: PyTorch's count)")
    parser.add_argument("--runs", type=int, default=20, help="timed calls per backend (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per backend first (default 3)")
    parser.add_argument("--activation-type", choices=ACTIVATION_TYPES, default="uint8",
                        help="INT8 activation type: uint8 (U8S8, default) or int8 (S8S8); the faster one depends on the CPU and runtime")
    parser.add_argument("--int8-path", choices=INT8_PATHS, default="export",
                        help="INT8 graph: vidquant's QDQ export of the fake-quant model (default), "
                             "or ONNX Runtime's own static quantization of the FP32 graph (a reference)")
    parser.add_argument("--keep-onnx", metavar="DIR", help="write the ONNX files here instead of a temporary folder")
    parser.add_argument("--json", metavar="OUT", help="also write rows, machine info and the INT8 graph's deployability as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from vidquant.cli.model_args import load_model
    from vidquant.runtime import benchmark, deployability_report, format_rows, machine_info
    from vidquant.runtime.backends import BenchSetup, standard_backends, write_onnx_files
    from vidquant.runtime.bench import check_counts

    check_counts(args.runs, args.warmup)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()  # ONNX Runtime gets as many threads as PyTorch uses
    if not (args.recipe or args.quant or Path(args.model).suffix == ".safetensors"):
        args.recipe = DEFAULT_RECIPE
    float_model, quant_model, inputs = load_model(args)
    generator = torch.Generator().manual_seed(2)
    calibration = [[torch.randn(x.shape, generator=generator) for x in inputs] for _ in range(CALIBRATION_BATCHES)]
    with tempfile.TemporaryDirectory(prefix="vidquant-bench-") as tmp:
        setup = BenchSetup(Path(args.keep_onnx or tmp), threads, args.activation_type, args.int8_path)
        files = write_onnx_files(float_model, quant_model, inputs, calibration, setup)
        deployability = deployability_report(files.int8)
        backends = standard_backends(float_model, quant_model, files, setup)
        rows = benchmark(backends, inputs, runs=args.runs, warmup=args.warmup, progress=sys.stderr.isatty())
    machine = machine_info(runtime_threads=threads)
    shapes = [tuple(x.shape) for x in inputs]
    print(f"{args.model} ({quantization_label(args, quant_model)}), input {', '.join(map(_shape_text, shapes))}, {args.runs} runs")
    for note in files.notes:
        print(f"note: {note}")
    print(format_rows(rows))
    print(f"INT8 graph: {deployability.summary()}")
    for node in deployability.fallbacks:  # every float fallback by name, so each can be traced back
        print(f"  float fallback: {node.op_type:<16} {node.name}")
    print(machine.format())
    if args.json:
        data = {
            "command": command_line(args),
            "model": args.model,
            "quantization": quantization_label(args, quant_model),
            "input_shapes": [list(shape) for shape in shapes],
            "activation_type": args.activation_type,
            "int8_path": args.int8_path,
            "runs": args.runs,
            "backends": {row.name: row.to_dict() for row in rows},
            "machine": machine.to_dict(),
            "int8_deployability": deployability.to_dict(),
            "export_notes": files.notes,
        }
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=2) + "\n")
    return 0


def quantization_label(args: argparse.Namespace, model: torch.nn.Module) -> str:
    from vidquant.runtime.backends import recipe_label

    recipes = recipe_label(model)
    if args.recipe:
        return f"recipe {recipes}, PTQ on random inputs"
    return f"checkpoint {Path(args.quant or args.model).name}: {recipes}"


def command_line(args: argparse.Namespace) -> str:
    """The command that regenerates these results (options as parsed, defaults included)."""
    parts = ["vidquant", "bench", args.model]
    for option in ("recipe", "quant", "threads", "runs", "warmup", "activation_type", "int8_path"):
        value = getattr(args, option)
        if value is not None:
            parts += [f"--{option.replace('_', '-')}", str(value)]
    for shape in args.input_shape or []:
        parts += ["--input-shape", shape]
    parts += ["--json", args.json]
    return " ".join(shlex.quote(part) for part in parts)


def _shape_text(shape) -> str:
    return "x".join(map(str, shape))
