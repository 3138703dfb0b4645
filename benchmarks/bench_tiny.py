"""Latency of the bundled tiny-convnet at 1x3x256x256 on every backend, side by side, with machine info.

A smoke-sized stand-in for the codec / UVQ / SCI benchmarks: the same command, a model that
needs no download. Options after the script name go to ``vidquant bench`` unchanged.

    PYTHONPATH=src python benchmarks/bench_tiny.py [--threads 2] [--runs 20] [--json results/bench/tiny.json]
    PYTHONPATH=src python benchmarks/bench_tiny.py --int8-path ort-static   # ONNX Runtime's own PTQ instead
"""

from __future__ import annotations

import sys

from vidquant.cli.main import main

MODEL = "tiny-convnet"
INPUT_SHAPE = "1x3x256x256"


if __name__ == "__main__":
    sys.exit(main(["bench", MODEL, "--input-shape", INPUT_SHAPE, *sys.argv[1:]]))
