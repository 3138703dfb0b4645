"""``vidquant bench MODEL``: latency and size of PyTorch / ONNX Runtime (/ OpenVINO) backends, side by side."""

from __future__ import annotations

import argparse
import copy
import json
import shlex
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn

from vidquant.calibrate import calibrate_ptq
from vidquant.errors import VidquantError
from vidquant.models import create_model
from vidquant.quant import quantize
from vidquant.quant.checkpoint import load_quantized, read_header
from vidquant.runtime import benchmark, deployability_report, format_rows, machine_info
from vidquant.runtime.backends import INT8_PATHS, BenchSetup, standard_backends, write_onnx_files
from vidquant.runtime.bench import check_counts
from vidquant.runtime.onnx_files import ACTIVATION_TYPES
from vidquant.runtime.ort_model import error_line

DEFAULT_RECIPE = "w8a8-lsq"
DEFAULT_SHAPE = "1x3x64x64"
CALIBRATION_BATCHES = 4


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="time PyTorch and ONNX Runtime backends of a model side by side")
    parser.add_argument("model", help="a registered model name (e.g. tiny-convnet) or a vidquant .safetensors checkpoint")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--recipe", help=f"quantize with this recipe and PTQ-calibrate it (default {DEFAULT_RECIPE})")
    source.add_argument("--quant", metavar="FILE", help="load the quantized model from this checkpoint")
    parser.add_argument("--input-shape", action="append", metavar="NxCxHxW",
                        help=f"shape of one positional input; repeat for several (default {DEFAULT_SHAPE})")
    parser.add_argument("--threads", type=int, help="threads for PyTorch and ONNX Runtime alike (default: PyTorch's count)")
    parser.add_argument("--runs", type=int, default=20, help="timed calls per backend (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per backend first (default 3)")
    parser.add_argument("--activation-type", choices=tuple(ACTIVATION_TYPES), default="uint8",
                        help="INT8 activation type: uint8 (U8S8, default) or int8 (S8S8); the faster one depends on the CPU and runtime")
    parser.add_argument("--int8-path", choices=INT8_PATHS, default="export",
                        help="INT8 graph: vidquant's QDQ export of the fake-quant model (default), "
                             "or ONNX Runtime's own static quantization of the FP32 graph (a reference)")
    parser.add_argument("--keep-onnx", metavar="DIR", help="write the ONNX files here instead of a temporary folder")
    parser.add_argument("--json", metavar="OUT", help="also write rows and machine info as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_counts(args.runs, args.warmup)
    shapes = [parse_shape(text) for text in args.input_shape or [DEFAULT_SHAPE]]
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()  # ONNX Runtime gets as many threads as PyTorch uses
    generator = torch.Generator().manual_seed(0)
    inputs = [torch.rand(shape, generator=generator) for shape in shapes]
    calibration = [[torch.rand(shape, generator=generator) for shape in shapes] for _ in range(CALIBRATION_BATCHES)]
    float_model, quant_model, label = load_models(args, inputs, calibration)
    with tempfile.TemporaryDirectory(prefix="vidquant-bench-") as tmp:
        setup = BenchSetup(Path(args.keep_onnx or tmp), threads, args.activation_type, args.int8_path)
        files = write_onnx_files(float_model, quant_model, inputs, calibration, setup)
        deployability = deployability_report(files.int8)
        backends = standard_backends(float_model, quant_model, files, setup)
        rows = benchmark(backends, inputs, runs=args.runs, warmup=args.warmup, progress=sys.stderr.isatty())
    machine = machine_info(runtime_threads=threads)
    print(f"{args.model} ({label}), input {', '.join(map(_shape_text, shapes))}, {args.runs} runs")
    print(format_rows(rows))
    print(f"INT8 graph: {deployability.summary()}")
    print(machine.format())
    if args.json:
        write_json(args, label, shapes, rows, machine, deployability)
    return 0


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        shape = ()
    if not shape or any(size < 1 for size in shape):
        raise VidquantError(f"input shape {text!r} must be positive sizes joined by 'x', e.g. {DEFAULT_SHAPE}")
    return shape


def load_models(
    args: argparse.Namespace, inputs: list[torch.Tensor], calibration: list[list[torch.Tensor]]
) -> tuple[nn.Module, nn.Module, str]:
    """The float model, its quantized copy and a label saying where the quantization came from."""
    checkpoint = args.quant
    if args.model.endswith(".safetensors"):
        if args.recipe or args.quant:
            raise VidquantError(f"{args.model} is a quantized checkpoint; --recipe and --quant apply to a model name")
        checkpoint = args.model
    float_model = create_model(args.model if checkpoint is None else _checkpoint_model_name(checkpoint, args.model)).eval()
    check_inputs_fit(float_model, inputs, args.model)
    if checkpoint is not None:
        return float_model, load_quantized(copy.deepcopy(float_model), checkpoint), f"checkpoint {Path(checkpoint).name}"
    recipe = args.recipe or DEFAULT_RECIPE
    quant_model = calibrate_ptq(quantize(copy.deepcopy(float_model), recipe), calibration)
    return float_model, quant_model, f"recipe {recipe}, PTQ on {len(calibration)} random batches"


def _checkpoint_model_name(checkpoint: str, model_arg: str) -> str:
    model = read_header(checkpoint)["model"]
    if model is None:
        raise VidquantError(f"{checkpoint} names no registered model; benchmark it from Python with vidquant.runtime")
    if not model_arg.endswith(".safetensors") and model_arg != model["name"]:
        raise VidquantError(f"{checkpoint} holds model {model['name']!r}, not {model_arg!r}")
    return model["name"]


def check_inputs_fit(model: nn.Module, inputs: list[torch.Tensor], name: str) -> None:
    """Run the float model once, so a wrong shape fails before anything is exported."""
    try:
        with torch.inference_mode():
            model(*inputs)
    except (RuntimeError, TypeError, ValueError) as error:
        shapes = ", ".join(_shape_text(x.shape) for x in inputs)
        raise VidquantError(f"input shape {shapes} does not fit {name} ({error_line(error)})") from None


def write_json(
    args: argparse.Namespace, label: str, shapes: list[tuple[int, ...]], rows, machine, deployability
) -> None:
    data = {
        "command": command_line(args),
        "model": args.model,
        "quantization": label,
        "input_shapes": [list(shape) for shape in shapes],
        "activation_type": args.activation_type,
        "int8_path": args.int8_path,
        "runs": args.runs,
        "backends": {row.name: row.to_dict() for row in rows},
        "machine": machine.to_dict(),
        "int8_deployability": deployability.to_dict(),
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")


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
