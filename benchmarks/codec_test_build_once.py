"""Wall time of `codec test --quant` jobs with models built once per worker against a build per job.

Runs the same (sequence, rate point) jobs twice in one process, side by side: once as
``run_test`` does (the student built once, reused by every job), once rebuilding the models
for every job (as before: weights read, quantization replayed, graph-scope networks traced,
ONNX graphs exported). Prints both totals, their ratio, and checks that the numbers agree.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/codec_test_build_once.py STUDENT.safetensors \
        --test_config CFG.json [--backend onnx] [--rate_num 4]

STUDENT comes from `vidquant codec calibrate` (e.g. `--recipe w8a8-static --epochs 0`).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

TIMES = ("test_time", "avg_frame_encoding_time", "avg_frame_decoding_time")


def cpu_flags() -> str:
    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").exists() else []
    return " ".join(f"{flag}={'yes' if flag in flags else 'no'}" for flag in ("avx2", "avx512f", "avx512_vnni"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("student", type=Path)
    parser.add_argument("--test_config", type=Path, required=True)
    parser.add_argument("--backend", default="onnx", choices=("torch", "torch-fake-quant", "onnx", "onnx-reference"))
    parser.add_argument("--rate_num", type=int, default=4)
    parser.add_argument("--preset", default="dcvc-rt-small")
    args = parser.parse_args()

    import torch

    from vidquant.io.dataset import load_dataset_config
    from vidquant.models.codec.workflow import codec_test
    from vidquant.models.codec.workflow.coding_models import ModelSpec, build_models

    torch.set_num_threads(1)
    spec = ModelSpec(args.preset, quant=str(args.student), backend=args.backend)
    options = codec_test.TestOptions(rate_num=args.rate_num)
    config = load_dataset_config(args.test_config)
    jobs = codec_test.jobs_from_config(config, options)

    start = time.perf_counter()
    reused, errors = codec_test.run_test(spec, config, options, progress=False)
    reuse_s = time.perf_counter() - start
    if errors:
        raise SystemExit("\n".join(errors))

    start = time.perf_counter()
    same = True
    for job in jobs:
        point = codec_test._run_job(spec, options, job, build_models(spec))
        kept = reused[job.class_name][job.sequence][f"{job.rate_index:03d}"]
        same &= {k: v for k, v in point.items() if k not in TIMES} == {k: v for k, v in kept.items() if k not in TIMES}
    rebuild_s = time.perf_counter() - start

    print(f"machine: {platform.processor() or platform.machine()}, {cpu_flags()}, one torch thread")
    print(f"{len(jobs)} jobs, backend {args.backend}, student {args.student.name}")
    print(f"built once per worker: {reuse_s:8.1f} s")
    print(f"built for every job:   {rebuild_s:8.1f} s")
    print(f"ratio (per job / once): {rebuild_s / reuse_s:.2f}x; same numbers: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
