"""INT8 streams from the command line, checked sample for sample on every decoder that takes them.

For each student, sequence and qp the script runs what a user runs, each command in its own
process:

    vidquant codec encode SEQ -o F.bin --qp QP --quant S --recon enc.yuv [--backend onnx]
    vidquant codec decode F.bin -o out.yuv --quant S --backend torch
    vidquant codec decode F.bin -o out.yuv --quant S --backend onnx        (graph-scope students)
    vidquant codec decode F.bin -o out.yuv --bundle DIR                     (graph-scope students)

with ``DIR`` from ``vidquant codec export-decoder --quant S -o DIR --size WxH`` (once per student
and picture size), and counts the samples of each decoded file that differ from the encoder's
reconstruction, for the I-frame and the P-frames apart. A layer-scope student decodes on
``torch`` only (ONNX Runtime computes other numbers for it: refused by the CLI, and recorded
here as refused). With no ``--student``, a graph-scope ``w8a8-static`` student (round to
nearest) is calibrated into ``--workdir`` first.

    PYTHONPATH=src python benchmarks/codec_int8_roundtrip.py --json results/codec/int8_roundtrip.json \\
        --student w8a8-static=results/codec/students/w8a8-static.safetensors --student int8-lsq-w=...
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SEQUENCES = ("foreman_352x288_8f.yuv", "cars_320x240_30f.yuv", "ciscovt2people_320x192_9f.yuv")
QPS = (0, 21, 42, 63)


def vidquant(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-m", "vidquant", *args], cwd=REPO, env=env, capture_output=True, text=True)


def run_ok(*args: str) -> None:
    done = vidquant(*args)
    if done.returncode:
        raise SystemExit(f"vidquant {' '.join(args)} failed:\n{done.stderr.strip()[-2000:]}")


def ensure_student(folder: Path) -> Path:
    path = folder / "w8a8-static-rtn.safetensors"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        print(f"calibrating {path} ...", flush=True)
        run_ok("codec", "calibrate", "--recipe", "w8a8-static", "--epochs", "0", "--gop_unroll", "3",
               "--calib_config", "results/codec/calib_config.json", "--test_config", "results/codec/test_config.json",
               "-o", str(path))
    return path


def is_graph_scope(student: Path) -> bool:
    sys.path.insert(0, str(REPO / "src"))
    from vidquant.models.codec.workflow.coding_models import is_graph_scope_student

    return is_graph_scope_student(student)


def size_of(name: str) -> tuple[int, int]:
    token = next(t for t in Path(name).stem.split("_") if "x" in t and t.replace("x", "").isdigit())
    width, height = token.split("x")
    return int(width), int(height)


def differing(decoded: Path, recon: Path, frame_bytes: int) -> dict:
    """Differing samples of a decoded file against the encoder's reconstruction: I (frame 0) and P."""
    a, b = np.fromfile(decoded, dtype=np.uint8), np.fromfile(recon, dtype=np.uint8)
    if a.shape != b.shape:
        return {"differing_samples": -1, "note": f"sizes differ: {a.size} vs {b.size} bytes"}
    diff = a != b
    return {"differing_samples": int(diff.sum()), "differing_i": int(diff[:frame_bytes].sum()),
            "differing_p": int(diff[frame_bytes:].sum()), "frames": a.size // frame_bytes}


def check_student(name: str, student: Path, data: Path, work: Path, frames: int, qps: tuple[int, ...],
                  encode_backend: str) -> list[dict]:
    graph = is_graph_scope(student)
    rows = []
    for sequence in SEQUENCES:
        width, height = size_of(sequence)
        frame_bytes = width * height * 3 // 2
        bundle = work / f"{name}.bundle.{width}x{height}"
        decoders = ["torch"] + (["onnx", "bundle"] if graph else ["onnx"])
        if graph and not bundle.exists():
            run_ok("codec", "export-decoder", "--quant", str(student), "-o", str(bundle), "--size", f"{width}x{height}")
        for qp in qps:
            stem = work / f"{name}.{Path(sequence).stem}.q{qp}"
            stream, recon = stem.with_suffix(".bin"), stem.with_suffix(".recon.yuv")
            backend = encode_backend if graph else "torch"
            start = time.perf_counter()
            run_ok("codec", "encode", str(data / sequence), "-o", str(stream), "--qp", str(qp), "--frames", str(frames),
                   "--recon", str(recon), "--quant", str(student), "--backend", backend)
            encode_s = time.perf_counter() - start
            for decoder in decoders:
                out = stem.with_suffix(f".{decoder}.yuv")
                args = ["--bundle", str(bundle)] if decoder == "bundle" else ["--quant", str(student), "--backend", decoder]
                start = time.perf_counter()
                done = vidquant("codec", "decode", str(stream), "-o", str(out), *args)
                row = {"student": name, "graph_scope": graph, "sequence": sequence, "qp": qp, "encode_backend": backend,
                       "decoder": decoder, "stream_bytes": stream.stat().st_size, "encode_s": round(encode_s, 2),
                       "decode_s": round(time.perf_counter() - start, 2)}
                if done.returncode:
                    row.update(refused=True, error=done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "")
                else:
                    row.update(refused=False, **differing(out, recon, frame_bytes))
                    out.unlink()
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def summary(rows: list[dict]) -> dict:
    decoded = [r for r in rows if not r["refused"]]
    return {"streams": len({(r["student"], r["sequence"], r["qp"]) for r in rows}),
            "decodes": len(decoded),
            "decodes_with_differences": sum(r["differing_samples"] != 0 for r in decoded),
            "differing_samples_total": sum(max(r["differing_samples"], 0) for r in decoded),
            "refused": sorted({f"{r['student']} on {r['decoder']}" for r in rows if r["refused"]})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--student", action="append", default=[], help="NAME=PATH of a `codec calibrate` student (repeatable)")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "video" / "yuv")
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--qps", type=int, nargs="+", default=list(QPS))
    parser.add_argument("--encode-backend", choices=("torch", "onnx"), default="onnx",
                        help="encoder backend of graph-scope students (layer-scope: torch)")
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "codec_int8_roundtrip")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    students = dict(s.split("=", 1) for s in args.student) or {"w8a8-static-rtn": str(ensure_student(args.workdir))}
    start = time.time()
    rows = [row for name, path in students.items()
            for row in check_student(name, Path(path), args.data, args.workdir, args.frames, tuple(args.qps),
                                     args.encode_backend)]
    flags = sorted(set(Path("/proc/cpuinfo").read_text().split()) & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"})
    report = {"machine": {"cpu_flags": flags, "python": platform.python_version()},
              "settings": {"frames": args.frames, "qps": args.qps, "sequences": list(SEQUENCES),
                           "students": students, "encode_backend": args.encode_backend},
              "summary": summary(rows), "wall_s": round(time.time() - start), "rows": rows}
    print(json.dumps(report["summary"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
