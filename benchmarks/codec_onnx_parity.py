"""ONNX Runtime decoder against the PyTorch fake-quant decoder, point by point: reads the
<name>.torch.json / <name>.onnx.json pairs of `vidquant codec test --backend` in a folder and
prints YUV-PSNR, bpp, decoder mismatches and decode time per frame side by side
(run by results/bench/run.sh)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator

from vidquant.io.table import format_table


def rate_points(results: dict, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """(class, sequence, rate index) -> the point's fields, in file order."""
    if "ave_all_frame_psnr" in results:
        yield path, results
        return
    for key, value in results.items():
        if isinstance(value, dict):
            yield from rate_points(value, (*path, key))


def compare(torch_file: Path, onnx_file: Path) -> tuple[list[list[str]], float]:
    ours = dict(rate_points(json.loads(torch_file.read_text())))
    theirs = dict(rate_points(json.loads(onnx_file.read_text())))
    rows, worst = [], 0.0
    for key, point in ours.items():
        other = theirs[key]
        gap = other["ave_all_frame_psnr"] - point["ave_all_frame_psnr"]
        worst = max(worst, abs(gap))
        rows.append([key[1], key[2], f"{point['ave_all_frame_psnr']:.4f}", f"{other['ave_all_frame_psnr']:.4f}",
                     f"{gap:+.4f}", f"{point['ave_all_frame_bpp']:.5f}", f"{other['ave_all_frame_bpp']:.5f}",
                     f"{point['decoder_mismatch_samples']}/{other['decoder_mismatch_samples']}",
                     f"{point['avg_frame_decoding_time'] * 1e3:.1f}", f"{other['avg_frame_decoding_time'] * 1e3:.1f}"])
    return rows, worst


def main(folder: Path) -> int:
    header = ["sequence", "rate", "PSNR torch", "PSNR onnx", "diff dB", "bpp torch", "bpp onnx",
              "mismatch t/o", "dec ms torch", "dec ms onnx"]
    for torch_file in sorted(folder.glob("*.torch.json")):
        name = torch_file.name[: -len(".torch.json")]
        rows, worst = compare(torch_file, folder / f"{name}.onnx.json")
        print(f"== {name}: ONNX Runtime decoder networks vs PyTorch fake-quant (YUV-PSNR, 6:1:1)")
        print(format_table(header, rows, right=set(range(2, len(header)))))
        print(f"largest |PSNR difference| {worst:.4f} dB\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "results/bench/codec_onnx")))
