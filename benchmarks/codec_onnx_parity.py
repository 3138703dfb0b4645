"""ONNX Runtime decoder against the PyTorch fake-quant decoder, point by point: reads the
<name>.<backend>.json files of `vidquant codec test --backend` in a folder and
prints YUV-PSNR, bpp and decoder mismatches side by side (run by results/bench/run.sh;
latency belongs to `vidquant bench`, not to these coding runs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator

from vidquant.io.text_table import format_table


def rate_points(results: dict, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """(class, sequence, rate index) -> the point's fields, in file order."""
    if "ave_all_frame_psnr" in results:
        yield path, results
        return
    for key, value in results.items():
        if isinstance(value, dict):
            yield from rate_points(value, (*path, key))


def load_points(path: Path) -> dict[tuple[str, ...], dict[str, Any]]:
    return dict(rate_points(json.loads(path.read_text())))


def compare(ours: dict, theirs: dict) -> tuple[list[list[str]], float]:
    rows, worst = [], 0.0
    for key, point in ours.items():
        other = theirs[key]
        gap = other["ave_all_frame_psnr"] - point["ave_all_frame_psnr"]
        worst = max(worst, abs(gap))
        rows.append([key[1], key[2], f"{point['ave_all_frame_psnr']:.4f}", f"{other['ave_all_frame_psnr']:.4f}",
                     f"{gap:+.4f}", f"{point['ave_all_frame_bpp']:.5f}", f"{other['ave_all_frame_bpp']:.5f}",
                     f"{point['decoder_mismatch_samples']}/{other['decoder_mismatch_samples']}"])
    return rows, worst


# (PyTorch backend, ONNX Runtime backend, label): `--backend torch` gives a graph-scope student
# integer-kernel arithmetic; torch-fake-quant (run for graph scope only) keeps float arithmetic.
PAIRS = (
    ("torch", "onnx", "ONNX Runtime fused integer kernels vs PyTorch"),
    ("torch", "onnx-reference", "ONNX Runtime reference kernels, no graph optimization, vs PyTorch"),
    ("torch-fake-quant", "onnx", "ONNX Runtime fused integer kernels vs PyTorch float fake-quant arithmetic"),
)


def main(folder: Path) -> int:
    header = ["sequence", "rate", "PSNR torch", "PSNR onnx", "diff dB", "bpp torch", "bpp onnx",
              "mismatch t/o"]
    for torch_file in sorted(folder.glob("*.torch.json")):
        name = torch_file.name[: -len(".torch.json")]
        for ours, theirs, label in PAIRS:
            ours_file, theirs_file = folder / f"{name}.{ours}.json", folder / f"{name}.{theirs}.json"
            if not (ours_file.is_file() and theirs_file.is_file()):
                continue
            ours_points = load_points(ours_file)
            rows, worst = compare(ours_points, load_points(theirs_file))
            arithmetic = next(iter(ours_points.values()))["backend"]  # what ran the decoder networks
            print(f"== {name}: {label} [{arithmetic}] (decoder networks; YUV-PSNR, 6:1:1)")
            print(format_table(header, rows, right=set(range(2, len(header)))))
            print(f"largest |PSNR difference| {worst:.4f} dB\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "results/bench/codec_onnx")))
