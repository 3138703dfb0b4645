"""``vidquant sci train|test|table|analyze``: EfficientSCI video snapshot compressive imaging."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vidquant.cli.command_group import add_command_group
from vidquant.errors import VidquantError


def register(subparsers: argparse._SubParsersAction) -> None:
    commands = add_command_group(
        subparsers, "sci", help="video snapshot compressive imaging (EfficientSCI / Q-SCI)",
        description="Video snapshot compressive imaging: train EfficientSCI, quantization-aware training with "
                    "the Q-SCI recipes, benchmark PSNR/SSIM, module sensitivity and the results table.",
    )
    for name, help_text, description, add_arguments in _SUBCOMMANDS:
        add_arguments(commands.add_parser(name, help=help_text, description=description))


def _add_train(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", required=True, help="network preset (efficientsci-s, efficientsci-cpu)")
    parser.add_argument("--data", nargs="+", required=True, help="video files or folders (.yuv named *_WxH*, or anything PyAV decodes)")
    parser.add_argument("--out", required=True, type=Path, help="run folder: checkpoint, state, log (resumes if present)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs to train (default 10)")
    parser.add_argument("--iters-per-epoch", type=int, default=250, help="batches per epoch (default 250)")
    parser.add_argument("--batch-size", type=int, default=4, help="crops per batch (default 4)")
    parser.add_argument("--crop", type=int, default=128, help="square crop size, even (default 128)")
    parser.add_argument("--crop-after", action="append", default=[], metavar="EPOCH:SIZE",
                        help="switch to crop SIZE from EPOCH on (repeatable), e.g. 100:256")
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (default 1e-4)")
    parser.add_argument("--lr-drop-epoch", type=int, default=None, help="multiply lr by 0.1 from this epoch on")
    parser.add_argument("--mask", default=None, help="train with this mask (.npy or .mat 'mask'); default random per sample")
    parser.add_argument("--init", default=None, help="start from these weights (model.safetensors); with --recipe the FP weights to quantize")
    parser.add_argument("--recipe", default=None, help="QAT with a Q-SCI recipe (qsci-w8/w4/w3/w2); needs --init")
    parser.add_argument("--variant", default="qsci", help="with --recipe: qsci (default), direct, shift, shift-fem (ablation steps)")
    parser.add_argument("--seed", type=int, default=0, help="seed of initial weights, crops and masks (default 0)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--time-limit", type=float, default=None, help="stop (after saving) after this many seconds")
    parser.set_defaults(func=_train)


def _add_test(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ckpt", required=True, help="model.safetensors or model-quantized.safetensors written by 'vidquant sci train'")
    parser.add_argument("--data", nargs="+", required=True, help=".mat benchmark files (orig, meas, mask)")
    parser.add_argument("--mask", default=None, help="mask file (.npy T x H x W, or .mat 'mask' H x W x T) replacing the files' own")
    parser.add_argument("--meas-only", action="store_true",
                        help="measurements without ground truth (real captures: 'meas', a mask): score only the "
                             "measurement consistency and write the reconstruction (needs --recon)")
    parser.add_argument("--recon", type=Path, default=None, help="folder for each file's reconstruction, NAME.npy (float32 frames x H x W in [0, 1])")
    parser.add_argument("--png", type=Path, default=None, help="folder for ground truth vs reconstruction grids")
    parser.add_argument("--json", type=Path, default=None, help="write per-frame and mean scores here")
    parser.add_argument("--per-frame", action="store_true", help="print every frame's PSNR/SSIM")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.set_defaults(func=_test)


def _add_analyze(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ckpt", required=True, help="full-precision model.safetensors")
    parser.add_argument("--bits", type=int, default=4, help="bit width of the qsci-w* recipe applied to one group: 8, 4, 3 or 2 (default 4)")
    parser.add_argument("--data", nargs="+", required=True, help=".mat benchmark files to score on")
    parser.add_argument("--calib", nargs="+", required=True, help="video clips/folders for PTQ calibration (not the benchmarks)")
    parser.add_argument("--calib-crop", type=int, default=64, help="calibration crop size (default 64)")
    parser.add_argument("--groups", nargs="+", default=None, help="module groups (default fem resdnet up_conv vrm)")
    parser.add_argument("--json", type=Path, default=None, help="write the table here")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.set_defaults(func=_analyze)


def _add_table(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fp", required=True, help="full-precision model.safetensors (PTQ rows start from it)")
    parser.add_argument("--rows", nargs="*", default=[],
                        help="fp, KIND-wBITS (PTQ, no training) or KIND-wBITS=CKPT (QAT checkpoint); KIND: qsci, direct, shift, shift-fem")
    parser.add_argument("--data", nargs="+", required=True, help=".mat benchmark files")
    parser.add_argument("--calib", nargs="+", required=True, help="video clips/folders for PTQ calibration")
    parser.add_argument("--calib-crop", type=int, default=64, help="calibration crop size (default 64)")
    parser.add_argument("--out", type=Path, default=Path("results/sci"), help="folder of rows/*.json, table.json, table.md (default results/sci)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.set_defaults(func=_table)


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _parse_crop_after(values: list[str]) -> tuple[tuple[int, int], ...]:
    try:
        return tuple((int(e), int(s)) for e, s in (value.split(":") for value in values))
    except ValueError:
        raise VidquantError(f"--crop-after takes EPOCH:SIZE, got {values}") from None


def _train(args: argparse.Namespace) -> int:
    from vidquant.models.sci.train import TrainSettings, train

    _set_threads(args.threads)
    settings = TrainSettings(
        preset=args.preset, data=tuple(args.data), out=args.out, epochs=args.epochs,
        iters_per_epoch=args.iters_per_epoch, batch_size=args.batch_size, crop=args.crop,
        crop_schedule=_parse_crop_after(args.crop_after), lr=args.lr, lr_drop_epoch=args.lr_drop_epoch,
        mask=args.mask, init=args.init, seed=args.seed, time_limit_s=args.time_limit,
    )
    if args.recipe is None:
        result = train(settings)
        print(f"trained {result.steps} steps, last batch loss {result.loss:.6f}: {result.weights}")
        return 0
    from vidquant.models.sci.qsci import bits_of_recipe, get_variant, qat_train

    if args.init is None:
        raise VidquantError("--recipe needs --init FP_CKPT (QAT starts from full-precision weights)")
    variant = get_variant(args.variant, bits_of_recipe(args.recipe))
    print(f"quantized checkpoint: {qat_train(settings, variant, args.init)}")
    return 0


def _test(args: argparse.Namespace) -> int:
    import numpy as np

    from vidquant.io.jsonfile import write_json
    from vidquant.io.output_path import check_output_path
    from vidquant.models.sci.data import load_benchmark
    from vidquant.models.sci.evaluate import evaluate, save_grid
    from vidquant.models.sci.forward_model import load_mask
    from vidquant.models.sci.qsci import load_any

    if args.meas_only and args.recon is None:
        raise VidquantError("--meas-only needs --recon FOLDER: without ground truth the reconstruction is the result")
    for folder in (args.recon, args.png):
        if folder is not None and folder.exists() and not folder.is_dir():
            raise VidquantError(f"{folder} is a file, not a folder")
    if args.json:
        check_output_path(args.json, (".json",), "--json")
    _set_threads(args.threads)
    model = load_any(args.ckpt)
    mask = load_mask(args.mask) if args.mask else None
    benchmarks = [load_benchmark(path, mask, args.meas_only) for path in args.data]  # all read before the work
    results = []
    for benchmark in benchmarks:
        result = evaluate(model, benchmark, progress=True)
        if args.per_frame:
            for index, (p, s) in enumerate(zip(result.psnr, result.ssim)):
                print(f"{result.name} frame {index:3d}  PSNR {p:6.2f} dB  SSIM {s:.4f}")
        scores = f"PSNR {result.mean_psnr:.2f} dB  SSIM {result.mean_ssim:.4f}  " if result.has_truth else "no ground truth  "
        print(f"{result.name}: {scores}measurement RMSE {result.mean_consistency:.5f} "
              f"(relative {np.mean(result.relative_consistency):.4f})")
        if args.recon:
            args.recon.mkdir(parents=True, exist_ok=True)
            np.save(args.recon / f"{result.name}.npy", result.recon.numpy().astype(np.float32))
            print(f"  reconstruction: {args.recon / f'{result.name}.npy'} ({tuple(result.recon.shape)})")
        if args.png:
            print(f"  grid: {save_grid(args.png / f'{result.name}.png', benchmark.orig, result.recon)}")
        results.append(result)
    if len(results) > 1 and all(r.has_truth for r in results):
        print(f"mean: PSNR {sum(r.mean_psnr for r in results) / len(results):.2f} dB  "
              f"SSIM {sum(r.mean_ssim for r in results) / len(results):.4f}")
    if args.json:
        write_json(args.json, {"ckpt": str(args.ckpt), "results": [r.to_dict() for r in results]})
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from vidquant.models.sci.data import load_benchmark
    from vidquant.models.sci.qsci import BITS, load_any
    from vidquant.models.sci.study import MODULE_GROUPS, calibration_batches, sci_sensitivity

    _set_threads(args.threads)
    if args.bits not in BITS:
        raise VidquantError(f"--bits must be one of {BITS}, got {args.bits}")
    frames = load_any(args.ckpt).config.frames
    calib = calibration_batches(args.calib, frames, crop=args.calib_crop)
    table = sci_sensitivity(args.ckpt, args.bits, [load_benchmark(p) for p in args.data], calib,
                            groups=args.groups or MODULE_GROUPS)
    print(table.format(" dB"))
    if args.json:
        args.json.write_text(json.dumps(table.to_dict(), indent=2))
    return 0


def _table(args: argparse.Namespace) -> int:
    import sys

    from vidquant.models.sci.data import load_benchmark
    from vidquant.models.sci.qsci import load_any
    from vidquant.models.sci.study import calibration_batches, merge_rows, score_row, table_markdown

    _set_threads(args.threads)
    rows_dir = args.out / "rows"
    rows_dir.mkdir(parents=True, exist_ok=True)
    benchmarks = [load_benchmark(p) for p in args.data]
    calib = calibration_batches(args.calib, load_any(args.fp).config.frames, crop=args.calib_crop)
    command = "vidquant " + " ".join(sys.argv[1:])
    for spec in args.rows:
        row = {**score_row(spec, args.fp, benchmarks, calib), "command": command}
        (rows_dir / f"{row['row'].replace(' ', '-')}.json").write_text(json.dumps(row, indent=2))
        print(f"{row['row']}: PSNR {row['mean']['psnr']:.2f} dB  SSIM {row['mean']['ssim']:.4f}")
    table = merge_rows(rows_dir, command)
    (args.out / "table.json").write_text(json.dumps(table, indent=2))
    (args.out / "table.md").write_text(table_markdown(table))
    print(f"wrote {args.out / 'table.json'} and {args.out / 'table.md'}")
    return 0


# name, one-line help, description, the function that adds its arguments
_SUBCOMMANDS = (
    ("train", "train EfficientSCI on random crops of video clips",
     "Train EfficientSCI on random crops of video clips with random (or --mask) masks; resumable. "
     "With --recipe and --init: Q-SCI quantization-aware training from full-precision weights.", _add_train),
    ("test", "PSNR/SSIM of a checkpoint on .mat benchmark files",
     "Reconstruct .mat benchmark measurements with a full-precision or quantized checkpoint and "
     "print PSNR/SSIM per benchmark (and the mean) and the measurement consistency (RMS of meas - "
     "sum_t mask_t * recon_t). --meas-only: real captures without ground truth.", _add_test),
    ("table", "score variants and (re)write results/sci/table.json and table.md",
     "Score each --rows variant (PTQ from --fp, or a QAT checkpoint) on the benchmarks, store one "
     "JSON per row under OUT/rows and rewrite OUT/table.json and OUT/table.md from all stored rows.", _add_table),
    ("analyze", "per-module quantization sensitivity (PSNR drop) of an FP checkpoint",
     "Quantize one module group at a time (qsci-w<bits> recipe, PTQ on --calib clips) and print, "
     "per group, the mean benchmark PSNR and its drop against the full-precision baseline.", _add_analyze),
)
