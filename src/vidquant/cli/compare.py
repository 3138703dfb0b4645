"""``vidquant compare REF DIS``: per-frame and mean PSNR / SSIM / MS-SSIM between two videos."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from typing import TYPE_CHECKING

from vidquant.errors import VidquantError

if TYPE_CHECKING:
    from vidquant.metrics import VideoComparison


def register(subparsers) -> None:
    subparsers.add_parser(
        "compare", help="full-reference quality of one video against another",
        description="Per-frame and mean PSNR (Y, U, V, 6:1:1 YUV), SSIM and MS-SSIM on Y. "
                    "Planes are compared at their own resolution (4:2:0, or 4:4:4 chroma at full size). "
                    "Inputs: raw .yuv (size from --size or _WxH in the name, format from --pix-fmt or the name), "
                    ".y4m, PNG folder/pattern, or anything FFmpeg decodes (mp4, mkv, .264, .265; other chroma "
                    "formats are converted, with a note).",
        add_arguments=_arguments,
    )


def _arguments(parser: argparse.ArgumentParser) -> None:
    from vidquant.io.frame import PIXEL_FORMATS  # (torch)

    parser.add_argument("ref", type=Path, help="reference video")
    parser.add_argument("dis", type=Path, help="distorted (decoded) video")
    parser.add_argument("--size", help="WIDTHxHEIGHT of raw .yuv inputs (default: _WxH in the name; "
                                       "contradicting the name is an error)")
    parser.add_argument("--pix-fmt", default=None,
                        help=f"raw .yuv sample format ({', '.join(PIXEL_FORMATS)}; default: the format the file name "
                             "states, e.g. _yuv420p10le_, else yuv420p; contradicting the name is an error)")
    parser.add_argument("--first", type=int, default=0, help="first frame to compare (default 0)")
    parser.add_argument("--frames", type=int, default=None, help="number of frames (default: all)")
    parser.add_argument("--no-ssim", action="store_true", help="skip SSIM and MS-SSIM (faster)")
    parser.add_argument("--per-frame", action="store_true", help="print one line per frame")
    parser.add_argument("--json", type=Path, help="write per-frame and mean results to this JSON file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vidquant.io import open_video
    from vidquant.io.jsonfile import write_json
    from vidquant.metrics import compare_frames

    readers = [open_video(p, args.size, args.first, args.frames, args.pix_fmt) for p in (args.ref, args.dis)]
    total = getattr(readers[0], "frame_count", None)
    result = compare_frames(*readers, with_ssim=not args.no_ssim, first_index=args.first,
                            progress=True, total=total)
    result.notes.extend(note for reader in readers for note in getattr(reader, "notes", ()))
    if args.per_frame:
        for frame in result.frames:
            print(_row(f"frame {frame.index}", asdict(frame)))
    _print_summary(result)
    if args.json:
        write_json(args.json, report(args, result))
    if result.error:
        raise VidquantError(f"{result.error} (results above cover the {len(result.frames)} frames before it)")
    if not result.frames:
        raise VidquantError("no frames to compare")
    return 0


def _fmt(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _row(label: str, values: dict) -> str:
    psnr = " ".join(f"{k}={_fmt(values.get('psnr_' + k), 3)}" for k in ("y", "u", "v", "yuv"))
    extra = " ".join(f"{k}={_fmt(values.get(k), 5)}" for k in ("ssim_y", "ms_ssim_y") if values.get(k) is not None)
    return f"{label}: PSNR {psnr} dB {extra}".rstrip()


def _print_summary(result: VideoComparison) -> None:
    print(f"frames compared: {len(result.frames)}")
    if not result.frames:
        return
    print(_row("mean of frames", result.mean()))
    print(_row("pooled MSE", asdict(result.pooled())))
    if result.ms_ssim_scales is not None and result.ms_ssim_scales < 5:
        print(f"note: MS-SSIM used {result.ms_ssim_scales} scales (frame short side <= 160 px)")
    for note in result.notes:
        print(f"note: {note}")


def report(args: argparse.Namespace, result: VideoComparison) -> dict:
    """The JSON written by ``--json``: inputs, means, pooled PSNR, per-frame rows, error if any."""
    pooled = result.pooled()
    return {
        "reference": str(args.ref),
        "distorted": str(args.dis),
        "frames_compared": len(result.frames),
        "mean": result.mean(),
        "pooled": asdict(pooled) if pooled else None,
        "ms_ssim_scales": result.ms_ssim_scales,
        "frames": [asdict(f) for f in result.frames],
        "notes": result.notes,
        "error": result.error,
    }
