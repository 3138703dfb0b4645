"""Throughput of a `codec test` sweep: local processes (`--worker 1`, `--worker 2`) against Ray
tasks on a local cluster of 1 and 2 worker CPUs, measured side by side in one run.

Runs the same (sequence, rate point) jobs of the shipped dcvc-rt-small on small real sequences
from ../shared four ways and prints jobs per minute and the ratio to `--worker 1` (each way
builds its models once per worker process, inside the timed sweep, as `codec test` does; a Ray
cluster's start is timed apart, since a real cluster is started once for many sweeps). Then the
overhead per job: the time a job that does nothing takes through the same runner, on Ray and in
this process. Checks that every way gives the same numbers (times aside).

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/sweep_throughput.py [--frames 5] [--rates 4]

Needs Ray (pip install vidquant[cluster]) and ../shared/data/video/yuv.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEQUENCES = {"cars_128x96_60f.yuv": (128, 96), "ciscovt2people_160x96_5f.yuv": (160, 96),
             "foreman_176x144_8f.yuv": (176, 144)}
TIMES = ("test_time", "avg_frame_encoding_time", "avg_frame_decoding_time")


def nothing(job: int) -> int:
    return job


def _config(folder: Path, frames: int) -> Path:
    root = REPO.parent / "shared" / "data" / "video" / "yuv"
    if not root.is_dir():
        sys.exit(f"needs {root}")
    sequences = {name: {"width": w, "height": h, "frames": frames, "intra_period": -1} for name, (w, h) in SEQUENCES.items()}
    path = folder / "config.json"
    path.write_text(json.dumps({"root_path": str(root), "test_classes": {"c": {"base_path": "", "sequences": sequences}}}))
    return path


def _numbers(results: dict) -> str:
    return json.dumps({c: {s: {r: {k: v for k, v in p.items() if k not in TIMES} for r, p in pts.items()}
                           for s, pts in seqs.items()} for c, seqs in results.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5, help="frames per sequence (default 5; at most 5)")
    parser.add_argument("--rates", type=int, default=4, help="rate points (default 4)")
    parser.add_argument("--noop_jobs", type=int, default=200, help="jobs that do nothing, for the overhead (default 200)")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    import ray

    from vidquant.io.dataset import load_dataset_config
    from vidquant.models.codec.workflow.codec_test import TestOptions, jobs_from_config, run_test_sweep, sweep_results
    from vidquant.models.codec.workflow.coding_models import ModelSpec
    from vidquant.sweep import run_jobs
    from vidquant.sweep.cluster import OBJECT_STORE_BYTES

    spec, options = ModelSpec("dcvc-rt-small"), TestOptions(rate_num=args.rates, reset_interval=32)
    with tempfile.TemporaryDirectory() as folder:
        jobs = jobs_from_config(load_dataset_config(_config(Path(folder), args.frames)), options)
    print(f"{len(jobs)} jobs: {len(SEQUENCES)} sequences x {args.rates} rates, {args.frames} frames, dcvc-rt-small; "
          f"{os.cpu_count()} CPUs; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; "
          f"load average {os.getloadavg()[0]:.1f} (other jobs on the machine disturb every figure)")

    rows, numbers, overhead = [], {}, {}
    for way, workers, cluster in (("--worker 1", 1, None), ("--worker 2", 2, None),
                                  ("Ray, 1 worker", 1, "local"), ("Ray, 2 workers", 2, "local")):
        started = ""
        if cluster:
            start = time.perf_counter()
            ray.init(address="local", num_cpus=workers, include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES,
                     _node_ip_address="127.0.0.1", logging_level="WARNING")
            started = f" (cluster start {time.perf_counter() - start:.1f} s, not counted)"
        try:
            start = time.perf_counter()
            sweep = run_test_sweep(spec, jobs, options, workers, cluster, progress=False)
            seconds = time.perf_counter() - start
            if workers == 1:  # the runner's cost of a job that does nothing
                start = time.perf_counter()
                run_jobs(nothing, list(range(args.noop_jobs)), [str(i) for i in range(args.noop_jobs)],
                         cluster=cluster, progress=False)
                overhead[way] = (time.perf_counter() - start) / args.noop_jobs
        finally:
            if cluster:
                ray.shutdown()
        assert not sweep.errors, sweep.error_lines()
        numbers[way] = _numbers(sweep_results(jobs, sweep))
        rows.append((way, seconds, started))
    base = rows[0][1]
    for way, seconds, started in rows:
        print(f"{way:15s} {len(jobs) / seconds * 60:7.1f} jobs/min  {base / seconds:5.2f}x --worker 1  "
              f"({seconds:.1f} s){started}")
    for way, seconds in overhead.items():
        print(f"overhead per job, {way}: {seconds * 1e3:.2f} ms (a job that does nothing, {args.noop_jobs} jobs)")
    print(f"mean job of --worker 1: {base / len(jobs):.2f} s")
    same = len(set(numbers.values())) == 1
    print("numbers (times aside): " + ("identical in every way" if same else "DIFFER"))
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
