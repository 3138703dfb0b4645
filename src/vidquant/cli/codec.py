"""``vidquant codec``: DCVC-RT conformance, encode and decode."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vidquant.cli.cluster_args import add_cluster_argument
from vidquant.cli.command_group import add_command_group
from vidquant.errors import VidquantError
from vidquant.io.shared_data import shared_path

DEFAULT_PACK = shared_path("conformance", "dcvc_rt")


def register(subparsers: argparse._SubParsersAction) -> None:
    commands = add_command_group(
        subparsers, "codec", help="DCVC-RT neural video codec on the CPU",
        description="DCVC-RT neural video codec on the CPU: conformance replay, real bitstreams (encode/decode), "
                    "training, the DCVC-style test harness, INT8 decoder calibration and drift measurement.",
    )
    _register_conformance(commands)
    _register_encode(commands)
    _register_decode(commands)
    _register_export_decoder(commands)
    _register_train(commands)
    _register_test(commands)
    _register_calibrate(commands)
    _register_drift(commands)


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="dcvc-rt-small", help="dcvc-rt or dcvc-rt-small (default)")
    parser.add_argument("--model_path_i", type=Path, help="image-model checkpoint (.pth.tar or .safetensors); give both or neither (default: the preset's packaged weights)")
    parser.add_argument("--model_path_p", type=Path, help="video-model checkpoint (.pth.tar or .safetensors); give both or neither (default: the preset's packaged weights)")
    parser.add_argument("--synthetic", action="store_true", help="use the conformance pack's deterministic fill weights instead of checkpoints")


def _register_conformance(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "conformance", help="replay every check of the DCVC-RT conformance pack",
        description="Replay the checks of the DCVC-RT conformance pack (failures, or every check with --verbose); "
                    "exit status 0 only when all pass.",
    )
    parser.add_argument("--pack", type=Path, default=DEFAULT_PACK, help=f"pack folder (default {DEFAULT_PACK})")
    parser.add_argument("--section", action="append", help="run only this section (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="print every check")
    parser.set_defaults(func=run_conformance)


def _register_encode(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "encode", help="encode a raw I420 video to a bitstream file",
        description="Encode a video (coded as 8-bit 4:2:0; other formats are converted, with a note) to a "
                    "DCVC-RT bitstream file (format: docs/bitstream.md) and print its size and bits per pixel.",
    )
    parser.add_argument("video", type=Path, help="video: .yuv (size from the name *_WxH_*, or --size), .y4m, or PyAV-decodable "
                                                  "(.264, .mp4); 10-bit or 4:4:4 input is converted to 8-bit 4:2:0, with a note")
    parser.add_argument("-o", "--output", type=Path, required=True, help="bitstream file to write")
    parser.add_argument("--qp", type=int, required=True, help="qp of I-frames (and P-frames unless --qp_p)")
    parser.add_argument("--qp_p", type=int, help="qp of P-frames before the shift (default --qp)")
    parser.add_argument("--size", help="WxH when the name does not say it (contradicting the name is an error)")
    parser.add_argument("--pix-fmt", help="raw .yuv sample format, e.g. yuv420p10le, yuv444p (default: the format the "
                                          "name states, e.g. _yuv420p10le_, else yuv420p; contradicting the name is an error)")
    parser.add_argument("--frames", type=int, help="code at most this many frames")
    parser.add_argument("--intra_period", type=int, default=-1, help="I-frame period (default -1: only frame 0)")
    parser.add_argument("--reset_interval", type=int, help="feature reset interval (default: the preset's)")
    parser.add_argument("--recon", type=Path, help="also write the encoder's reconstruction (.yuv/.y4m)")
    parser.add_argument("--stats", type=Path, help="write per-frame bytes, estimated bits and time as JSON")
    parser.add_argument("--quant", type=Path,
                        help="INT8 decoder student (vidquant codec calibrate): code in closed loop with its arithmetic, "
                             "so the stream decodes only with the same --quant (default: the float codec)")
    _add_backend_arg(parser, "the student's decoder networks on the encoder side")
    _add_model_args(parser)
    parser.set_defaults(func=run_encode)


def _add_backend_arg(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                        help=f"where {what} run: torch (default; a graph-scope student computes ONNX Runtime's "
                             "integer-kernel arithmetic in PyTorch) or onnx (ONNX Runtime integer kernels, exported "
                             "once per process and picture size; graph-scope students only). Both compute the same "
                             "numbers, so a stream encoded on one decodes on the other")


def _register_decode(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "decode", help="decode a bitstream file to I420 .yuv, .y4m or lossless .mkv",
        description="Decode a bitstream written by `vidquant codec encode` with the same model "
                    "(the same --preset and weights, and the same --quant student if it was encoded with one) "
                    "to 8-bit I420 .yuv, .y4m, or .mkv (FFV1, lossless); other names are refused before decoding.",
    )
    parser.add_argument("bitstream", type=Path, help="bitstream file written by `vidquant codec encode`")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output .yuv, .y4m or .mkv (FFV1)")
    parser.add_argument("--quant", type=Path, help="the INT8 decoder student the stream was encoded with (default: none)")
    parser.add_argument("--bundle", type=Path,
                        help="decode with this decoder bundle (codec export-decoder) on ONNX Runtime + numpy, without "
                             "PyTorch; replaces --quant, --backend and the model flags")
    _add_backend_arg(parser, "the student's decoder networks")
    _add_model_args(parser)
    parser.set_defaults(func=run_decode)


def _register_export_decoder(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export-decoder", help="write the INT8 decoder bundle that decodes without PyTorch",
        description="Write the decoder bundle of a graph-scope INT8 student (codec calibrate --recipe w8a8-static): "
                    "its decoder networks as ONNX graphs for each picture size, entropy and per-qp tables, and "
                    "manifest.json; `vidquant codec decode F.bin --bundle DIR` decodes its streams with ONNX Runtime, "
                    "numpy and constriction only (docs/deploy.md).",
    )
    parser.add_argument("--quant", type=Path, required=True, help="the graph-scope INT8 student the streams are encoded with")
    parser.add_argument("-o", "--output", type=Path, required=True, help="bundle folder to create (new or empty)")
    parser.add_argument("--size", nargs="+", required=True, metavar="WxH",
                        help="picture sizes to export graphs for (each padded to a multiple of 16), e.g. 352x288 1280x720")
    _add_model_args(parser)
    parser.set_defaults(func=run_export_decoder)


def _register_train(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "train", help="train the I and P models of a preset (resumable)",
        description="Train the image (I) and then the video (P) model of a preset (from scratch, or fine-tune "
                    "shipped or exported weights with --init) on crops of the "
                    "clips, with a rate-distortion loss over qps 0..63; the learning rate drops to a tenth for "
                    "the last fifth of each phase's steps. Resumes from OUT/state.pt.",
        add_arguments=_train_arguments,
    )


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    from vidquant.models.codec.workflow.train import TrainSettings  # the defaults (torch); added on first use

    parser.add_argument("clips", nargs="+", type=Path, help="training videos (.yuv named *_WxH_*, .264, .mp4)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (state.pt is resumed from here)")
    parser.add_argument("--preset", default="dcvc-rt-small", help="dcvc-rt or dcvc-rt-small (default)")
    parser.add_argument("--steps_i", type=int, default=3000, help="image-model (I-frame) steps (default 3000)")
    parser.add_argument("--steps_p", type=int, default=1500, help="video-model (P-frame) steps (default 1500)")
    parser.add_argument("--batch", type=int, default=8, help="crops per step (default 8)")
    parser.add_argument("--crop", type=int, default=80, help="square crop, a multiple of 16 (default 80)")
    parser.add_argument("--p_frames", type=int, default=2, help="P-frames per training chain (default 2)")
    parser.add_argument("--lr", type=float, default=4e-4, help="Adam learning rate (default 4e-4)")
    parser.add_argument("--lambda_min", type=float, default=0.0008, help="lambda at qp 0 (lowest rate; default 0.0008)")
    parser.add_argument("--lambda_max", type=float, default=0.1, help="lambda at qp 63 (highest rate; default 0.1)")
    parser.add_argument("--colour_aug", type=float, default=TrainSettings.colour_aug,
                        help="share of training chains (0..1) given a random hue rotation and saturation gain 0.7-3x, "
                             "so that clips with few saturated colours still teach all colours (default %(default)s; "
                             "0: off, as the shipped weights were trained)")
    parser.add_argument("--seed", type=int, default=0, help="seed of initial weights, crops and qps (default 0)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: PyTorch's own count)")
    parser.add_argument("--device", default="cpu", help="torch device to train on, e.g. cuda (default cpu)")
    parser.add_argument("--init", default="scratch",
                        help="starting weights: scratch (untrained, default), package (the shipped pair) or a folder "
                             "with <preset>_image/video.safetensors; a phase with 0 steps keeps its model unchanged")
    parser.add_argument("--export", type=Path, help="write <preset>_image/video.safetensors (fp16) here")
    parser.set_defaults(func=run_train)


def _str2bool(text: str) -> bool:
    return str(text).lower() in ("yes", "y", "true", "t", "1")


def _register_test(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "test", help="DCVC test_video.py: rate points x sequences -> JSON",
        description="DCVC's test_video.py on the CPU: encode and decode every sequence of a DCVC-style config "
                    "at each rate point and write a DCVC-style result JSON (bits, bpp, PSNR per sequence and "
                    "rate) for `vidquant bd`. With --quant: the INT8-decoder codec, closed loop.",
    )
    parser.add_argument("--test_config", type=Path, required=True, help="DCVC-style dataset config JSON")
    parser.add_argument("--output_path", type=Path, required=True, help="result JSON")
    parser.add_argument("--rate_num", type=int, default=4, help="rate points, qps evenly spaced over 0..63 (default 4; ignored with --qp_i)")
    parser.add_argument("--qp_i", type=int, nargs="+", help="I-frame qp of each rate point (overrides --rate_num)")
    parser.add_argument("--qp_p", type=int, nargs="+", help="P-frame qp of each rate point, as many as the I-frame qps (default: the same)")
    parser.add_argument("--force_intra_period", type=int, default=-1, help="I-frame period for all sequences (default -1: each sequence's intra_period from the config)")
    parser.add_argument("--force_frame_num", type=int, default=-1, help="frames per sequence (default -1: each sequence's frames from the config)")
    parser.add_argument("--reset_interval", type=int, default=32, help="reset the P-frame feature every N frames (0: never; default 32)")
    parser.add_argument("--write_stream", type=_str2bool, default=False, help="true: also write each bitstream to STREAM_PATH/<class>/<seq>_q<qp_i>.bin (default false)")
    parser.add_argument("--stream_path", default="out_bin", help="folder of --write_stream bitstreams (default out_bin)")
    parser.add_argument("--worker", type=int,
                        help="parallel jobs: local processes (default 1), or with --cluster local the CPUs of the "
                             "local Ray cluster (default: all of this machine's)")
    add_cluster_argument(parser, "(sequence, rate point) job")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="take the jobs already finished from the journal (OUT.json -> OUT.partial.jsonl) that every run "
                             "keeps next to --output_path (refused if it was written with other arguments or "
                             "weights); --no-resume starts afresh (default: resume when a journal exists)")
    parser.add_argument("--cuda", type=_str2bool, default=False, help="accepted for compatibility and ignored: runs on CPU (default false)")
    parser.add_argument("--verbose", type=int, default=0, help="1: per-frame lists in the JSON (default 0)")
    parser.add_argument("--quant", type=Path, help="decoder-quantized codec from `vidquant codec calibrate`")
    parser.add_argument("--open_loop", action="store_true",
                        help="measurement only: float encoder, quantized decoder (shows the drift closed loop avoids)")
    parser.add_argument("--allow_overlap", action="store_true", help="evaluate on sequences seen in calibration")
    parser.add_argument("--backend", choices=("torch", "torch-fake-quant", "onnx", "onnx-reference"), default="torch",
                        help="torch (default): the decoder networks run in PyTorch (fake quantization with --quant; a "
                             "graph-scope student such as w8a8-static computes what integer kernels compute: int32 "
                             "accumulation, ONNX Runtime's requantization); torch-fake-quant: float arithmetic between "
                             "roundings, as in training; "
                             "onnx: each decoder network is exported to ONNX (Q/DQ) and run by ONNX Runtime with its "
                             "fused integer kernels, on the encoder side too; onnx-reference: the same graphs with "
                             "ONNX Runtime's graph optimizations off (every node's reference kernel)")
    _add_model_args(parser)
    parser.set_defaults(func=run_test)


def _register_calibrate(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "calibrate", help="quantize the decoder side and distill it from the float codec",
        description="Quantize the decoder side of the codec with a recipe and distill it from the "
                    "float codec on random crops of chains of real frames (1 I + GOP_UNROLL P) at qps spread "
                    "over 0..63; write the student as .safetensors for `codec test --quant` and `codec drift`.",
        add_arguments=_calibrate_arguments,
    )


def _calibrate_arguments(parser: argparse.ArgumentParser) -> None:
    from vidquant.models.codec.workflow.calibrate import CalibSettings  # the defaults (torch); added on first use

    defaults = CalibSettings()
    parser.add_argument("--recipe", default=defaults.recipe, help="int8-lsq-w, w8a8-lsq, w4a8-lsq, ... or a JSON file (default %(default)s)")
    parser.add_argument("--scope", choices=("recipe", "graph"), default=defaults.scope, help="graph: the recipe's integer form, which ONNX Runtime's integer kernels reproduce exactly (--backend onnx): every tensor of each decoder network quantized where it is made, weights at most 7 bits, a weight-only recipe's activations static uint8 (default %(default)s: the recipe as it is)")
    parser.add_argument("--calib_config", type=Path, required=True, help="DCVC-style config of the calibration sequences")
    parser.add_argument("--test_config", type=Path, help="refuse calibration sequences that share content with these")
    parser.add_argument("--allow_overlap", action="store_true", help="skip the --test_config overlap check")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="distillation epochs; 0: round-to-nearest baseline (observers only) (default %(default)s)")
    parser.add_argument("--lr", type=float, default=defaults.lr, help="learning rate relative to each step size (default %(default)s)")
    parser.add_argument("--trainable", choices=("scales", "all"), default=defaults.trainable, help="scales: quantizer parameters only; all: the quantized layers' weights and biases too (default %(default)s)")
    parser.add_argument("--weight_lr", type=float, help="with --trainable all: Adam rate of the layers' weights and biases, absolute (default: --lr)")
    parser.add_argument("--gop_unroll", type=int, default=defaults.gop_unroll, help="P-frames per training chain (default %(default)s)")
    parser.add_argument("--crop", type=int, default=defaults.crop, help="square crop, a multiple of 16 (default %(default)s)")
    parser.add_argument("--batch", type=int, default=defaults.batch, help="chains per distillation step (default %(default)s)")
    parser.add_argument("--chains", type=int, default=defaults.chains_per_sequence, help="chains per sequence (default %(default)s)")
    parser.add_argument("--max_frames", type=int, help="read at most this many frames per sequence")
    parser.add_argument("--match_features", action="store_true", help="also match the P-frame features")
    parser.add_argument("--rate_weight", type=float, default=defaults.rate_weight, help="also penalize the student's estimated rate change relative to the teacher's, with this weight per frame (about 1e-3 weighs it like BD; default %(default)s: off)")
    parser.add_argument("--range_frames", type=int, default=defaults.range_frames, help="P-frames of the long float chains (whole calibration frames) whose values set the input ranges of the layers that read the reference feature, kept fixed while distilling; 0: off (default %(default)s)")
    parser.add_argument("--colour_aug", type=float, default=defaults.colour_aug, help="share of calibration chains (0..1) given a random hue rotation and saturation gain 0.7-3x, for calibration clips with few saturated colours (default %(default)s: none)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the calibration crops, their qps and the batch order (default %(default)s)")
    parser.add_argument("--low_bit_picture_layers", action="store_true", help="with weights below 8 bits, quantize the layers that write the decoded picture to those bits too (default: they keep 8-bit weights)")
    parser.add_argument("--checkpoint_dir", type=Path, help="resumable run folder")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="student .safetensors")
    _add_model_args(parser)
    parser.set_defaults(func=run_calibrate)


def _register_drift(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "drift", help="closed- vs open-loop drift of a quantized decoder over a P chain",
        description="Code one I-frame and FRAMES-1 P-frames with the float codec and with a quantized decoder, "
                    "closed loop (the encoder uses the quantized decoder) and open loop (float encoder), and print "
                    "the PSNR gap to the float codec at the first and the last P-frame.",
    )
    parser.add_argument("video", type=Path, help=".yuv named *_WxH_* or a PyAV-decodable file")
    parser.add_argument("--quant", type=Path, required=True, help="decoder-quantized codec from `vidquant codec calibrate`")
    parser.add_argument("--qp", type=int, default=42, help="qp of the I-frame and the P-frames (default 42)")
    parser.add_argument("--frames", type=int, default=33, help="frames to code (1 I + frames-1 P; default 33)")
    parser.add_argument("--reset_interval", type=int, default=64, help="reset the P-frame feature every N frames (0: never; default 64)")
    parser.add_argument("--size", help="WxH when the name does not say it")
    parser.add_argument("--json", type=Path, help="write per-frame PSNRs and the summary")
    _add_model_args(parser)
    parser.set_defaults(func=run_drift)


def _codec(args: argparse.Namespace):
    from vidquant.models.codec import build_codec, require_weights

    return require_weights(build_codec(args.preset, args.model_path_i, args.model_path_p, args.synthetic))


def _coding_models(args: argparse.Namespace, backend: str):
    """The models of `codec encode` / `codec decode`: the float codec, or the --quant student on
    ``backend`` (refused where that backend would not reproduce the encoder's numbers)."""
    from vidquant.models.codec.workflow.coding_models import ModelSpec, build_models, check_stream_backend

    spec = ModelSpec(args.preset, _str(args.model_path_i), _str(args.model_path_p), args.synthetic,
                     _str(args.quant), backend=backend)
    check_stream_backend(spec)
    return build_models(spec)


def run_conformance(args: argparse.Namespace) -> int:
    from vidquant.models.codec.workflow.conformance import run_conformance as replay

    report = replay(args.pack, tuple(args.section) if args.section else None, progress=True)
    for check in report.checks if args.verbose else report.failed:
        print(f"{'PASS' if check.passed else 'FAIL'} {check.name}: {check.detail}")
    print(report.summary())
    return 0 if not report.failed else 1


def _note(text: str) -> None:
    print(f"note: {text}")


def run_encode(args: argparse.Namespace) -> int:
    from vidquant.io.output_path import VIDEO_OUTPUT_SUFFIXES, check_output_path
    from vidquant.models.codec.coding.pipeline import EncodeSettings, encode_video
    from vidquant.models.codec.coding.sequence import tensor_to_yuv420
    from vidquant.models.codec.coding.yuvfile import read_video, write_video

    check_output_path(args.output, what="bitstream")  # before the work, not after it
    if args.recon:
        check_output_path(args.recon, VIDEO_OUTPUT_SUFFIXES, "--recon")
    codec = _coding_models(args, backend=args.backend).encoder
    frames = list(read_video(args.video, args.size, args.frames, args.pix_fmt, note=_note))
    if not frames:
        raise VidquantError(f"{args.video} has no frames")
    height, width = frames[0][0].shape
    reset = codec.preset.reset_interval if args.reset_interval is None else args.reset_interval
    qp_p = args.qp if args.qp_p is None else args.qp_p
    settings = EncodeSettings(args.qp, qp_p, args.intra_period, reset, codec.preset.force_zero_thres)
    result = encode_video(codec, frames, settings, progress=True)
    size = result.bitstream.write(args.output)
    if args.recon:
        write_video(args.recon, [tensor_to_yuv420(x, height, width) for x in result.recons])
    if args.stats:
        args.stats.write_text(json.dumps([vars(s) for s in result.stats], indent=1))
    count = len(result.stats)
    print(f"{count} frames {width}x{height} -> {args.output} ({size} bytes, {8 * size / (count * width * height):.4f} bpp)")
    return 0


def run_decode(args: argparse.Namespace) -> int:
    from vidquant.io.output_path import VIDEO_OUTPUT_SUFFIXES, check_output_path

    check_output_path(args.output, VIDEO_OUTPUT_SUFFIXES)  # before decoding, not after it
    if args.bundle is not None:
        return _decode_with_bundle(args)
    from vidquant.deploy.bitstream import Bitstream
    from vidquant.models.codec.coding.pipeline import decode_video
    from vidquant.models.codec.coding.sequence import tensor_to_yuv420
    from vidquant.models.codec.coding.yuvfile import write_video

    stream = Bitstream.read(args.bitstream)
    models = _coding_models(args, backend=args.backend)
    frames = [tensor_to_yuv420(x, stream.height, stream.width) for x in decode_video(models.decoder, stream, progress=True)]
    write_video(args.output, frames)
    print(f"{len(frames)} frames {stream.width}x{stream.height} -> {args.output}")
    return 0


def _decode_with_bundle(args: argparse.Namespace) -> int:
    """`codec decode --bundle`: no torch is imported on this path."""
    from vidquant.deploy.bundle import BundleDecoder

    if args.quant is not None:
        raise VidquantError("--bundle holds the decoder: give --bundle or --quant, not both")
    count, stream = BundleDecoder(args.bundle).decode_file(args.bitstream, args.output)
    print(f"{count} frames {stream.width}x{stream.height} -> {args.output}")
    return 0


def run_export_decoder(args: argparse.Namespace) -> int:
    from vidquant.io.frame import parse_size
    from vidquant.models.codec.workflow.export_bundle import export_decoder

    sizes = [parse_size(text) for text in args.size]
    manifest = export_decoder(args.preset, args.quant, args.output, sizes, _str(args.model_path_i),
                              _str(args.model_path_p), args.synthetic)
    print(f"{args.output}: {manifest['preset']} {manifest['decoder']} fingerprint {manifest['fingerprint']}, "
          f"graphs for {', '.join(manifest['sizes'])}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    import torch

    from vidquant.models.codec.workflow.train import (
        TrainSettings,
        export_weights,
        train,
    )

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.crop % 16:
        raise VidquantError(f"--crop must be a multiple of 16, got {args.crop}")
    settings = TrainSettings(
        preset=args.preset, steps_i=args.steps_i, steps_p=args.steps_p, batch=args.batch, crop=args.crop,
        p_frames=args.p_frames, lr=args.lr, lambda_min=args.lambda_min, lambda_max=args.lambda_max,
        seed=args.seed, clips=[str(c) for c in args.clips], device=args.device, init=args.init,
        colour_aug=args.colour_aug,
    )
    state = train(settings, args.out)
    print(f"trained I {state.step_i} steps, P {state.step_p} steps -> {args.out / 'state.pt'}")
    if args.export:
        paths = export_weights(state.codec, args.export)
        print("exported " + ", ".join(str(p) for p in paths))
    return 0


def run_test(args: argparse.Namespace) -> int:
    import logging

    from vidquant.io.dataset import load_dataset_config
    from vidquant.models.codec.workflow.codec_test import (
        TestOptions,
        jobs_from_config,
        run_test_sweep,
        sweep_results,
        sweep_journal,
        write_results,
    )
    from vidquant.models.codec.workflow.coding_models import ModelSpec
    from vidquant.sweep.cluster import check_cluster
    from vidquant.sweep.journal import journal_path

    logging.basicConfig(format="%(levelname)s %(message)s")
    check_cluster(args.cluster)
    config = load_dataset_config(args.test_config, check_files=False)  # a missing sequence fails alone
    spec = ModelSpec(args.preset, _str(args.model_path_i), _str(args.model_path_p), args.synthetic,
                     _str(args.quant), args.open_loop, args.backend)
    options = TestOptions(
        args.rate_num, _tuple(args.qp_i), _tuple(args.qp_p), args.force_intra_period, args.force_frame_num,
        args.reset_interval, args.write_stream, args.stream_path, bool(args.verbose),
    )
    if args.cuda:
        print("vidquant codec test: --cuda ignored, the codec runs on the CPU")
    jobs = jobs_from_config(config, options)
    journal = sweep_journal(journal_path(args.output_path), spec, options, jobs, args.resume)
    sweep = run_test_sweep(spec, jobs, options, args.worker, args.cluster, journal, allow_overlap=args.allow_overlap)
    results, errors = sweep_results(jobs, sweep), sweep.error_lines()
    if not results:  # no `{}` result file for a run in which every job failed
        journal.remove()
        raise VidquantError(f"every job failed, nothing written to {args.output_path}; the first: {errors[0]}")
    write_results(results, args.output_path)
    if not errors:
        journal.remove()  # the result file holds every job; a journal with failures lets a rerun retry them
    done = sum(len(rates) for seqs in results.values() for rates in seqs.values())
    print(f"{done} sequence x rate results -> {args.output_path}{sweep.summary()}")
    return 1 if errors else 0


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _tuple(values: list[int] | None) -> tuple[int, ...] | None:
    return None if values is None else tuple(values)


def run_calibrate(args: argparse.Namespace) -> int:
    import torch

    from vidquant.calibrate import is_main_process
    from vidquant.io.dataset import load_dataset_config
    from vidquant.models.codec.workflow.calibrate import (
        CalibSettings,
        calibrate_codec,
        load_sequences,
        save_student,
    )
    from vidquant.models.codec.workflow.codec_test import check_disjoint
    from vidquant.models.codec.workflow.quantize_decoder import decoder_storage
    from vidquant.quant.recipes import resolve_recipe

    torch.set_num_threads(args.threads)
    config = load_dataset_config(args.calib_config)
    if args.test_config is not None and not args.allow_overlap:
        test = load_dataset_config(args.test_config, check_files=False)  # only the names count here
        check_disjoint([s.name for _, s in config.enabled()], [s.name for _, s in test.enabled()])
    settings = CalibSettings(
        recipe=args.recipe, epochs=args.epochs, lr=args.lr, trainable=args.trainable, weight_lr=args.weight_lr,
        gop_unroll=args.gop_unroll,
        crop=args.crop, batch=args.batch, chains_per_sequence=args.chains, match_features=args.match_features,
        rate_weight=args.rate_weight, range_frames=args.range_frames,
        low_bit_picture_layers=args.low_bit_picture_layers, seed=args.seed, colour_aug=args.colour_aug,
        scope=args.scope,
    )
    sequences = load_sequences(config, args.max_frames)
    result = calibrate_codec(_codec(args), sequences, settings, args.checkpoint_dir)
    if not is_main_process():
        return 0  # under torchrun every rank holds the same student: rank 0 writes it (docs/scale.md)
    save_student(result, settings, args.output, {"preset": args.preset, "model_path_i": _str(args.model_path_i),
                                                 "model_path_p": _str(args.model_path_p)})
    print(f"calibrated {resolve_recipe(settings.decoder_recipe).name} on {', '.join(result.sequences)}: {result.distill.steps} steps, "
          f"loss {result.distill.initial_loss:.3g} -> {result.distill.final_loss:.3g}, "
          f"skipped {result.distill.skipped_steps}, wall time {result.seconds:.1f} s")
    if result.widened:
        print(f"{len(result.widened)} recurrent-path input ranges set from {settings.range_frames}-frame float chains, kept fixed")
    print(decoder_storage(result.student).line())
    print(f"-> {args.output}")
    return 0


def run_drift(args: argparse.Namespace) -> int:
    import copy

    from vidquant.models.codec.coding.pipeline import EncodeSettings
    from vidquant.models.codec.coding.yuvfile import read_video
    from vidquant.models.codec.workflow.drift import measure_drift
    from vidquant.models.codec.workflow.quantize_decoder import load_quantized_codec

    codec = _codec(args)
    quantized = load_quantized_codec(copy.deepcopy(codec), args.quant)
    frames = list(read_video(args.video, args.size, args.frames, note=_note))
    settings = EncodeSettings(args.qp, args.qp, -1, args.reset_interval, codec.preset.force_zero_thres)
    result = measure_drift(codec, quantized, frames, settings)
    summary = result.summary()
    for loop in ("closed_loop", "open_loop"):
        row = summary[loop]
        print(f"{loop.replace('_', ' ')}: PSNR gap vs float {row['gap_first_p']:+.4f} dB at the first P-frame, "
              f"{row['gap_last_p']:+.4f} dB at P-frame {summary['p_frames']} (drift {row['drift_db']:+.4f} dB)")
    print(f"closed loop spends {summary['closed_loop_bytes_change_percent']:+.2f} % bytes against the float stream")
    print(f"closed-loop decoder mismatch: {result.closed_mismatch_samples} samples; "
          f"open-loop decoder differs from the encoder in {result.open_mismatch_samples} samples")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"video": str(args.video), "qp": args.qp, **result.to_dict()}, indent=1))
    return 0
