"""``vidquant inspect FILE``: the report of a saved quantized model, or a summary of float weights."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect", help="print the report of a quantized checkpoint (or a summary of a float one)",
        description="Load a vidquant .safetensors checkpoint into the registered model it names and print the "
                    "per-layer report (bits, granularity, step sizes; coverage and packed size). Weight SQNR "
                    "needs the float weights, which a checkpoint does not hold: it reads n/a. A float "
                    "safetensors file (no vidquant header) gets a summary: tensors, parameters and bytes per "
                    "top-level module, and its metadata.",
    )
    parser.add_argument("file", help="a .safetensors file")
    parser.add_argument("--json", metavar="OUT", help="also write the report (quantized checkpoints) as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vidquant.analysis import report
    from vidquant.io.checkpoint import read_safetensors_metadata
    from vidquant.models import load_quantized_model
    from vidquant.quant.checkpoint import FORMAT_NAME

    if read_safetensors_metadata(args.file).get("format") != FORMAT_NAME:
        print(float_summary(args.file))
        return 0
    model = load_quantized_model(args.file)  # refuses a file that names no model
    info = model.vidquant_model
    result = report(model)
    kwargs = ", ".join(f"{key}={value!r}" for key, value in info["kwargs"].items())
    print(f"{args.file}: model {info['name']}" + (f" ({kwargs})" if kwargs else ""))
    print(result.format())
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result.to_dict(), handle, indent=2)
    return 0


def float_summary(path: str) -> str:
    """A float safetensors file: tensor count, parameters and bytes per top-level module, metadata."""
    from vidquant.io.checkpoint import read_safetensors
    from vidquant.io.text_table import format_table

    tensors, metadata = read_safetensors(path)
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    dtypes: dict[str, int] = defaultdict(int)
    for key, tensor in tensors.items():
        group = groups[key.split(".")[0]]
        group[0] += 1
        group[1] += tensor.numel()
        group[2] += tensor.numel() * tensor.element_size()
        dtypes[str(tensor.dtype).removeprefix("torch.")] += 1
    total = [sum(values[i] for values in groups.values()) for i in range(3)]
    rows = [(name, f"{count:,}", f"{params:,}", f"{nbytes:,}") for name, (count, params, nbytes) in groups.items()]
    rows.append(("total", f"{total[0]:,}", f"{total[1]:,}", f"{total[2]:,}"))
    lines = [
        f"{path}: float weights (no vidquant quantization header): {total[0]} tensors, {total[1]:,} parameters, "
        f"{total[2]:,} bytes ({', '.join(f'{count} {dtype}' for dtype, count in dtypes.items())})",
        format_table(("module", "tensors", "parameters", "bytes"), rows),
    ]
    for key, value in metadata.items():
        lines.append(f"metadata {key}: {value if len(value) <= 200 else value[:200] + '...'}")
    return "\n".join(lines)
