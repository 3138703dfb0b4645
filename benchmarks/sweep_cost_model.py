"""Cost model of a `codec test` sweep over the common test sets (docs/scale.md, "Cost model").

Core-seconds per frame and megapixel from the measured one-thread PyTorch FP32 times at
1280x720 in results/bench/codec_decode_speed.json (encode_s of its encode section, ms_per_frame
of its decode rows), times the frames of HEVC classes B-E, UVG and MCL-JCV at each rate point:
core-hours per preset, and the wall time on 1, 8 and 64 nodes of CORES cores each, one job
(sequence, rate point) per core at a time, longest jobs first.

    python benchmarks/sweep_cost_model.py [--frames 96] [--rates 4] [--cores 16]
"""

from __future__ import annotations

import argparse
import heapq
import json
from pathlib import Path

SPEED = Path(__file__).resolve().parents[1] / "results" / "bench" / "codec_decode_speed.json"
# (set, sequences, width, height): DCVC's test sets (HEVC common test conditions; UVG's 7
# sequences at 1080p as in the DCVC papers; MCL-JCV's 30 sequences)
TEST_SETS = [("HEVC B", 5, 1920, 1080), ("HEVC C", 4, 832, 480), ("HEVC D", 4, 416, 240),
             ("HEVC E", 3, 1280, 720), ("UVG", 7, 1920, 1080), ("MCL-JCV", 30, 1920, 1080)]
SIZE = "1280x720"


def seconds_per_megapixel_frame(preset: str) -> float:
    """Encode + decode core-seconds per frame per megapixel, one thread, from the measured 720p run."""
    data = json.loads(SPEED.read_text())
    encode = data["encode"][f"{preset} {SIZE}"]
    row = next(r for r in data["rows"] if (r["preset"], r["size"], r["threads"], r["backend"], r["precision"])
               == (preset, SIZE, 1, "pytorch", "fp32"))
    width, height = map(int, SIZE.split("x"))
    per_frame = encode["encode_s"]["fp32"] / encode["frames"] + row["ms_per_frame"] / 1000
    return per_frame / (width * height / 1e6)


def wall_seconds(jobs: list[float], cores: int) -> float:
    """Longest-first list scheduling of the jobs on ``cores`` cores: the last core's finish time."""
    finish = [0.0] * min(cores, len(jobs))
    for cost in sorted(jobs, reverse=True):
        heapq.heapreplace(finish, finish[0] + cost)
    return max(finish)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=96, help="frames per sequence (default 96)")
    parser.add_argument("--rates", type=int, default=4, help="rate points (default 4)")
    parser.add_argument("--cores", type=int, default=16, help="cores per node (default 16)")
    args = parser.parse_args()
    sequences = sum(count for _, count, _, _ in TEST_SETS)
    print(f"{sequences} sequences x {args.rates} rates = {sequences * args.rates} jobs, {args.frames} frames each; "
          f"nodes of {args.cores} cores, one job per core")
    print("| preset | s per frame-megapixel | core-hours | longest job | 1 node | 8 nodes | 64 nodes |")
    print("|---|---|---|---|---|---|---|")
    for preset in ("dcvc-rt-small", "dcvc-rt"):
        rate = seconds_per_megapixel_frame(preset)
        jobs = [rate * w * h / 1e6 * args.frames for _, count, w, h in TEST_SETS for _ in range(count * args.rates)]
        walls = [wall_seconds(jobs, nodes * args.cores) / 3600 for nodes in (1, 8, 64)]
        print(f"| `{preset}` | {rate:.2f} | {sum(jobs) / 3600:.1f} | {max(jobs) / 3600:.2f} h | "
              + " | ".join(f"{w:.2f} h" for w in walls) + " |")


if __name__ == "__main__":
    main()
