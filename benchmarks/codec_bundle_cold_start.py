"""Cold start of the deployed INT8 decoder: a new process, the bundle on disk, the first frame decoded.

For each preset the script calibrates (once, into ``--workdir``) the graph-scope ``w8a8-static``
student that benchmarks/codec_decode_speed.py uses, encodes a real clip with it (``codec encode
--quant``), exports its bundle (``codec export-decoder``), then starts ``--runs`` fresh Python
processes in which importing torch fails. Each reads the stream, opens the bundle and decodes
the first frame; the script reports the wall time from the process start to that frame (the
goal of issue 20: <= 1.5 s for dcvc-rt-small, <= 3 s for dcvc-rt) and its parts (Python start
and imports, opening the bundle: manifest, sha256 of every file, tables; the first frame:
ONNX Runtime sessions built on first use and the decode), the median over the runs. Every run's
first frame is compared with the encoder's reconstruction, and one run decodes the whole stream.

    PYTHONPATH=src python benchmarks/codec_bundle_cold_start.py
    PYTHONPATH=src python benchmarks/codec_bundle_cold_start.py --presets dcvc-rt-small --runs 3

``dcvc-rt`` has no packaged weights and runs on the conformance pack's synthetic fill: right
for timing, meaningless for quality. Timings on a machine shared with other jobs are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from codec_decode_speed import QP, SYNTHETIC, clip_source, ensure_student  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PRESETS = ("dcvc-rt-small", "dcvc-rt")
GOALS_S = {"dcvc-rt-small": 1.5, "dcvc-rt": 3.0}
SIZE = "352x288"

# The timed process: torch made unimportable before anything else runs.
PROBE = """
import sys, time
sys.modules['torch'] = None
t0 = time.perf_counter()
import json
import numpy as np
from vidquant.deploy.bitstream import Bitstream
from vidquant.deploy.bundle import BundleDecoder
from vidquant.deploy.pictures import picture_to_i420
t1 = time.perf_counter()
decoder = BundleDecoder(sys.argv[1])
t2 = time.perf_counter()
stream = Bitstream.read(sys.argv[2])
planes = picture_to_i420(next(iter(decoder.decode(stream))), stream.height, stream.width)
t3 = time.perf_counter()
first = np.concatenate([p.reshape(-1) for p in planes])
recon = np.fromfile(sys.argv[3], dtype=np.uint8, count=first.size)
print(json.dumps({"at_first_frame": time.time(), "imports_s": t1 - t0, "open_s": t2 - t1, "first_frame_s": t3 - t2,
                  "differing_samples": int((first != recon).sum())}))
"""


def _vidquant(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "vidquant", *args], check=True, cwd=REPO, stdout=subprocess.DEVNULL,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})


def prepare(preset: str, workdir: Path, frames: int) -> tuple[Path, Path, Path]:
    """(bundle, stream, encoder reconstruction) of the preset's student, made once."""
    student = ensure_student(preset, workdir)
    synthetic = ["--synthetic"] if SYNTHETIC.get(preset) else []
    folder = workdir / f"{preset}-{SIZE}"
    stream, recon, bundle = folder / "int8.bin", folder / "int8.recon.yuv", folder / "bundle"
    if not stream.exists():
        folder.mkdir(parents=True, exist_ok=True)
        print(f"encoding {frames} frames with {student.name} ...", flush=True)
        _vidquant("codec", "encode", str(clip_source(SIZE)), "-o", str(stream), "--qp", str(QP), "--frames", str(frames),
                  "--recon", str(recon), "--quant", str(student), "--preset", preset, *synthetic)
    if not bundle.exists():
        print(f"exporting the bundle of {student.name} ...", flush=True)
        _vidquant("codec", "export-decoder", "--quant", str(student), "-o", str(bundle), "--size", SIZE,
                  "--preset", preset, *synthetic)
    return bundle, stream, recon


def cold_start(bundle: Path, stream: Path, recon: Path) -> dict:
    """One fresh process: seconds from its start to the first decoded frame, and the parts."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    started = time.time()
    result = subprocess.run([sys.executable, "-c", PROBE, str(bundle), str(stream), str(recon)],
                            capture_output=True, text=True, env=env, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report["process_to_first_frame_s"] = report.pop("at_first_frame") - started
    return report


def whole_stream_differs(bundle: Path, stream: Path, recon: Path, out: Path) -> int:
    """Differing samples of a whole-stream `codec decode --bundle` against the encoder's reconstruction."""
    _vidquant("codec", "decode", str(stream), "-o", str(out), "--bundle", str(bundle))
    ours, theirs = out.read_bytes(), recon.read_bytes()
    return -1 if len(ours) != len(theirs) else sum(a != b for a, b in zip(ours, theirs))


def bundle_mb(bundle: Path) -> float:
    return sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per preset (default 5)")
    parser.add_argument("--frames", type=int, default=3, help="frames of the stream (default 3: I, P, P)")
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "codec_bundle_cold_start")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    rows = []
    for preset in args.presets:
        bundle, stream, recon = prepare(preset, args.workdir, args.frames)
        runs = [cold_start(bundle, stream, recon) for _ in range(args.runs)]
        median = {key: statistics.median(run[key] for run in runs)
                  for key in ("process_to_first_frame_s", "imports_s", "open_s", "first_frame_s")}
        row = {"preset": preset, "size": SIZE, "threads": 1, "runs": args.runs, **{k: round(v, 3) for k, v in median.items()},
               "goal_s": GOALS_S[preset], "meets_goal": median["process_to_first_frame_s"] <= GOALS_S[preset],
               "first_frame_differing_samples": max(run["differing_samples"] for run in runs),
               "whole_stream_differing_samples": whole_stream_differs(bundle, stream, recon, stream.with_suffix(".bundle.yuv")),
               "bundle_mb": round(bundle_mb(bundle), 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| preset | process start -> first frame (s) | imports | open bundle | first frame | goal | bundle MB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['preset']} | {r['process_to_first_frame_s']:.2f} | {r['imports_s']:.2f} | {r['open_s']:.2f} | "
              f"{r['first_frame_s']:.2f} | <= {r['goal_s']} | {r['bundle_mb']} |")
    if args.json:
        machine = {"cpu_count": os.cpu_count(), "loadavg": os.getloadavg()}
        args.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
