"""Per-frame latency of UVQ 1.5 on the CPU, five ways side by side in one run: PyTorch FP32,
ONNX Runtime FP32 and INT8, LiteRT FP32 and INT8 (XNNPACK), for the whole frame (content +
distortion + aggregation, one 1080p frame per call as `uvq score` runs quantized models) and
for each network alone, with the CPU's vector extensions.

INT8 is the deployable dynamic-int8 form of each runtime: ONNX Runtime runs the graph
`vidquant uvq quantize --recipe dynamic-int8` writes (per-channel int8 weights, per-row input
ranges computed by plain ops, round-to-nearest weights), LiteRT the file
`vidquant uvq export --format tflite --recipe dynamic-int8` writes (litert-torch's
full_dynamic_recipe, the published workflow's). FP32: the BatchNorm-folded float networks
exported to ONNX / converted to TFLite; PyTorch FP32 runs the model `uvq score` runs. Timing
uses `vidquant.runtime.benchmark` (calls interleaved, order rotating each round, median), so
the ratios of one table hold even on a shared machine; absolute times do not. Needs the litert
extra. Latency does not depend on the weights' values (FILL-v1 trunks by default).

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/uvq_litert_latency.py [--weights DIR] \
        [--runs 5] [--warmup 1] [--threads 1] [--out DIR] [--json FILE] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from pathlib import Path

import torch

from vidquant.export import export_onnx
from vidquant.export.tflite import import_litert
from vidquant.models.uvq import NET_NAMES, build_uvq
from vidquant.models.uvq.layers import fold_batchnorm
from vidquant.models.uvq.litert import TfliteUVQ, export_uvq_tflite
from vidquant.models.uvq.quantized import OnnxUVQ, example_inputs, quantize_uvq, write_network
from vidquant.runtime.bench import FP32, Backend, benchmark, format_rows, machine_info

INT8 = "int8"
BACKENDS = (  # name, precision, runtime
    ("PyTorch FP32", FP32, "PyTorch"),
    ("ONNX Runtime FP32", FP32, "ONNX Runtime"),
    ("ONNX Runtime INT8 (dynamic-int8)", INT8, "ONNX Runtime"),
    ("LiteRT FP32 (XNNPACK)", FP32, "LiteRT"),
    ("LiteRT INT8 (dynamic-int8, XNNPACK)", INT8, "LiteRT"),
)


def write_files(model, folder: Path) -> dict[str, Path]:
    """fp32/ and dynamic-int8/ folders holding <net>.onnx and <net>.tflite."""
    fp32_dir, int8_dir = folder / "fp32", folder / "dynamic-int8"
    for net, module in model.networks().items():
        export_onnx(fold_batchnorm(copy.deepcopy(module)).eval(), example_inputs(net), fp32_dir / f"{net}.onnx",
                    compact=True)
    quantized = quantize_uvq(model, "dynamic-int8")
    for net in NET_NAMES:
        write_network(net, model.networks()[net], quantized.networks()[net], "dynamic-int8", int8_dir)
    for recipe, target in (("fp32", fp32_dir), ("dynamic-int8", int8_dir)):
        export_uvq_tflite(model, recipe, target, getattr(model, "weights_label", ""))
    return {"fp32": fp32_dir, "dynamic-int8": int8_dir}


def _size(folder: Path, suffix: str, nets=NET_NAMES) -> int:
    return sum((folder / f"{net}{suffix}").stat().st_size for net in nets)


def runners(model, folders: dict[str, Path], threads: int | None) -> dict[str, object]:
    """Backend name -> a model called like UVQ1p5 (frames -> scores) with ``.networks()``."""
    return {
        BACKENDS[0][0]: model,
        BACKENDS[1][0]: OnnxUVQ(folders["fp32"], threads=threads),
        BACKENDS[2][0]: OnnxUVQ(folders["dynamic-int8"], threads=threads),
        BACKENDS[3][0]: TfliteUVQ(folders["fp32"], threads=threads),
        BACKENDS[4][0]: TfliteUVQ(folders["dynamic-int8"], threads=threads),
    }


def _sizes(model, folders: dict[str, Path], nets) -> list[int]:
    torch_bytes = sum(v.numel() * v.element_size() for net in nets for v in model.networks()[net].state_dict().values())
    return [torch_bytes, _size(folders["fp32"], ".onnx", nets), _size(folders["dynamic-int8"], ".onnx", nets),
            _size(folders["fp32"], ".tflite", nets), _size(folders["dynamic-int8"], ".tflite", nets)]


def _no_grad(function):
    def run(*inputs):
        with torch.inference_mode():
            return function(*inputs)

    return run


def measure(model, folders: dict[str, Path], runs: int, warmup: int, threads: int | None) -> dict[str, list]:
    """scope ("frame" or a network) -> BenchRows of the five backends."""
    models = runners(model, folders, threads)
    scopes = {"frame": (None, [torch.rand(1, 3, 1080, 1920, generator=torch.Generator().manual_seed(0)) * 2 - 1])}
    scopes.update({net: (net, example_inputs(net)) for net in NET_NAMES})
    results = {}
    for scope, (net, inputs) in scopes.items():
        nets = NET_NAMES if net is None else (net,)
        backends = {
            name: Backend(_no_grad(runner if net is None else runner.networks()[net]), precision, size)
            for (name, precision, _), runner, size in zip(BACKENDS, models.values(), _sizes(model, folders, nets))
        }
        results[scope] = benchmark(backends, inputs, runs=runs, warmup=warmup, reference=BACKENDS[0][0], progress=True)
    return results


def int8_vs_fp32(rows) -> dict[str, float]:
    """Per runtime: FP32 median / INT8 median (> 1: INT8 is faster)."""
    by_name = {row.name: row for row in rows}
    ratios = {}
    for runtime in ("ONNX Runtime", "LiteRT"):
        fp32 = next(by_name[n] for n, p, r in BACKENDS if r == runtime and p == FP32)
        int8 = next(by_name[n] for n, p, r in BACKENDS if r == runtime and p == INT8)
        ratios[runtime] = fp32.median_ms / int8.median_ms
    return ratios


def markdown(results: dict[str, list], machine, command: str) -> str:
    lines = ["# UVQ 1.5 per-frame latency: PyTorch, ONNX Runtime, LiteRT", "",
             f"command: `{command}`", "", f"machine: {machine.format()}", ""]
    for scope, rows in results.items():
        reference = rows[0].median_ms
        lines += [f"## {scope}", "", "| backend | median ms | min ms | x PyTorch FP32 | size MB | rel err vs PyTorch FP32 |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r.name} | {r.median_ms:.1f} | {r.min_ms:.1f} | {reference / r.median_ms:.2f} | "
                  f"{r.size_mb:.2f} | {r.rel_err:.1e} |" for r in rows]
        ratios = int8_vs_fp32(rows)
        lines += ["", "INT8 speed-up over FP32 (FP32 ms / INT8 ms): "
                  + ", ".join(f"{runtime} {ratio:.2f}x" for runtime, ratio in ratios.items()), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, help="folder with official .pth files (default: FILL-v1 trunks)")
    parser.add_argument("--runs", type=int, default=5, help="timed calls per backend (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls per backend first (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="threads of every runtime (default 1)")
    parser.add_argument("--out", type=Path, help="keep the model files here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="write rows and machine as JSON")
    parser.add_argument("--markdown", type=Path, help="write the tables as Markdown")
    args = parser.parse_args(argv)
    import_litert("litert_torch")
    torch.set_num_threads(args.threads)
    model = build_uvq(args.weights)[0]
    with tempfile.TemporaryDirectory(prefix="uvq-latency-") as tmp:
        folders = write_files(model, args.out or Path(tmp))
        results = measure(model, folders, args.runs, args.warmup, args.threads)
    machine = machine_info(runtime_threads=args.threads)
    command = "PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/uvq_litert_latency.py " + " ".join(argv or sys.argv[1:])
    for scope, rows in results.items():
        print(f"== {scope}")
        print(format_rows(rows))
        print("INT8 / FP32 speed-up: " + ", ".join(f"{k} {v:.2f}x" for k, v in int8_vs_fp32(rows).items()))
    print(machine.format())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        data = {"command": command.strip(), "machine": machine.to_dict(),
                "scopes": {scope: [row.to_dict() for row in rows] for scope, rows in results.items()},
                "int8_speedup": {scope: int8_vs_fp32(rows) for scope, rows in results.items()}}
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown(results, machine, command.strip()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
