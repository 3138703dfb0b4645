"""benchmarks/codec_decode_speed.py: the rows it commits (median per frame, ratio to the fastest
FP32 path of the same preset, size and threads). Timing itself is not tested here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "codec_decode_speed.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(SCRIPT.stem, SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[SCRIPT.stem] = module  # dataclasses resolve their annotations through it
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[SCRIPT.stem]


def _measure(bench, path: str, seconds: list[float], threads: int = 1, frames: int = 4):
    parts = {"networks": 1.0, "entropy": 2.0, "other": 3.0}
    cpu = [0.9 * s for s in seconds]
    return bench.Measurement("dcvc-rt-small", "352x288", threads, path, frames, seconds, cpu, 0.5, seconds[0] + 2.0, parts,
                             600.0, 550.0, 0, 1234, "pytorch fp32")


def test_rows_take_the_median_and_compare_with_the_fastest_fp32_path(bench):
    rows = bench.build_rows([
        _measure(bench, "pytorch-fp32", [0.4, 0.8, 0.41]),  # median 0.41 s / 4 frames = 102.5 ms
        _measure(bench, "onnxruntime-fp32", [0.2, 0.3, 0.9]),  # 75 ms: the fastest FP32 path
        _measure(bench, "onnxruntime-int8", [0.15, 0.1, 0.12]),  # 30 ms
        _measure(bench, "pytorch-fp32", [0.1], threads=2),  # another group: compared only with itself
    ], notes={"pytorch-fp32": "one torch thread"})
    assert [(r["backend"], r["precision"], r["threads"]) for r in rows] == [
        ("pytorch", "fp32", 1), ("onnxruntime", "fp32", 1), ("onnxruntime", "int8", 1), ("pytorch", "fp32", 2)]
    assert [r["ms_per_frame"] for r in rows] == [102.5, 75.0, 30.0, 25.0]
    assert [r["ratio_vs_fastest_fp32"] for r in rows] == [0.73, 1.0, 2.5, 1.0]
    assert rows[0]["runs_ms_per_frame"] == [100.0, 200.0, 102.5]
    assert rows[0]["cpu_ms_per_frame"] == 92.25
    assert rows[2]["export_and_first_call_s"] == 2.03  # first decode 2.15 s less the median run 0.12 s
    assert rows[0]["note"] == "one torch thread" and "note" not in rows[2]
    assert bench.format_rows(rows).splitlines()[3].split()[5:7] == ["30.0", "2.50x"]


def test_a_group_without_an_fp32_row_has_no_ratio(bench):
    (row,) = bench.build_rows([_measure(bench, "onnxruntime-int8", [0.1])])
    assert row["ratio_vs_fastest_fp32"] is None
    assert "-" in bench.format_rows([row]).splitlines()[1].split()
