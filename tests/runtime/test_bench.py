"""benchmark() times backends side by side and fills every field; machine_info() describes the host.
No timing asserts: latencies are only checked to be positive and ordered (min <= median)."""

import pytest
import torch

from tests.runtime.graphs import tiny_input, tiny_model
from vidquant.errors import VidquantError
from vidquant.runtime import Backend, OrtModel, benchmark, format_rows, machine_info
from vidquant.runtime.bench import CPU_FLAGS, relative_error


def _torch_run(model):
    def run(x):
        with torch.inference_mode():
            return model(x)

    return run


def test_rows_have_sane_fields(float_onnx):
    model = tiny_model()
    calls = {"torch": 0}

    def counted(x):
        calls["torch"] += 1
        return _torch_run(model)(x)

    backends = {
        "torch": Backend(run=counted, precision="fp32", size_bytes=4000),
        "ort": Backend(run=OrtModel(float_onnx, threads=1), precision="fp32", size_bytes=2_000_000, note="onnx"),
        "half": lambda x: _torch_run(model)(x).half(),
        "half twin": Backend(run=lambda x: _torch_run(model)(x).half().float(), compare_to="half"),
    }
    rows = benchmark(backends, [tiny_input()], runs=3, warmup=2)
    assert calls["torch"] == 2 + 3
    assert [row.name for row in rows] == ["torch", "ort", "half", "half twin"]
    assert [row.precision for row in rows] == ["fp32", "fp32", "", ""]
    for row in rows:
        assert 0 < row.min_ms <= row.median_ms and row.runs == 3 and row.speedup_vs_fp32 > 0
    fp32_speedups = [row.speedup_vs_fp32 for row in rows[:2]]
    assert max(fp32_speedups) == pytest.approx(1.0) and min(fp32_speedups) <= 1.0
    assert rows[0].size_mb == pytest.approx(0.004) and rows[1].size_mb == pytest.approx(2.0) and rows[2].size_mb is None
    assert rows[0].rel_err == 0.0 and rows[1].rel_err < 1e-5 and 1e-5 < rows[2].rel_err < 1e-2
    assert [row.compared_to for row in rows] == ["torch", "torch", "torch", "half"] and rows[3].rel_err == 0.0
    assert rows[1].note == "onnx" and rows[1].to_dict()["note"] == "onnx"
    table = format_rows(rows).splitlines()
    assert table[0].split()[:3] == ["backend", "precision", "median"] and len(table) == 2 + len(rows)
    assert table[-1].split()[-1] == "half"  # the "vs" column names the backend a row is compared to


def test_comparing_to_an_unknown_backend_is_an_error():
    with pytest.raises(VidquantError, match="no backend named nope to compare outputs with; backends: a"):
        benchmark({"a": Backend(run=lambda x: x, compare_to="nope")}, [torch.ones(1)], runs=1, warmup=0)


def test_without_fp32_rows_ratios_are_to_the_fastest_and_no_errors():
    rows = benchmark({"a": lambda x: x + 1, "b": lambda x: x * 2}, [torch.ones(4)], runs=2, warmup=0)
    assert max(row.speedup_vs_fp32 for row in rows) == pytest.approx(1.0)
    assert all(row.rel_err is None for row in rows)


@pytest.mark.parametrize("runs, warmup", [(0, 1), (3, -1)])
def test_bad_counts_are_errors(runs, warmup):
    with pytest.raises(VidquantError, match="runs must be >= 1 and warmup >= 0"):
        benchmark({"a": lambda x: x}, [torch.ones(1)], runs=runs, warmup=warmup)


def test_relative_error_of_tuples_and_mismatch():
    a, b = torch.tensor([3.0, 4.0]), torch.tensor([1.0])
    assert relative_error((a, b), (a, b)) == 0.0
    assert relative_error((a * 1.1,), (a,)) == pytest.approx(0.1)
    with pytest.raises(VidquantError, match="output has 3 values, the reference 2"):
        relative_error((a, b), a)


def test_machine_info_names_cpu_flags_versions_and_allocator(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    info = machine_info(runtime_threads=3)
    assert info.cpu_model and info.cores >= 1 and info.runtime_threads == 3
    assert list(info.cpu_flags) == list(CPU_FLAGS)
    assert info.int8_class in ("amx_int8", "avx512_vnni", "avx_vnni", "avx2", "none")
    assert info.allocator_env["MALLOC_ARENA_MAX"] == "2" and info.thread_env["OMP_NUM_THREADS"] == "1"
    assert info.versions["torch"] == torch.__version__ and "onnxruntime" in info.versions
    assert "malloc" in info.allocator or "LD_PRELOAD" in info.allocator or "linked" in info.allocator
    text = info.format()
    assert info.cpu_model in text and "MALLOC_ARENA_MAX=2" in text
    assert info.to_dict()["int8_class"] == info.int8_class


def test_openvino_backend_matches_pytorch_when_installed(float_onnx):
    pytest.importorskip("openvino", reason="OpenVINO is an optional extra (pip install vidquant[openvino])")
    from vidquant.runtime.backends import openvino_backend

    backend = openvino_backend(float_onnx, "fp32", threads=1)
    x = tiny_input(seed=3)
    with torch.no_grad():
        expected = tiny_model()(x)
    assert backend is not None and relative_error(backend.run(x), expected) < 1e-5
