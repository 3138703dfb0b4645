"""`vidquant bench` end to end: one table with the four backends, JSON with machine info, one-line errors."""

import json
import subprocess
import sys

import pytest

from vidquant.cli.main import main
from vidquant.models import create_model
from vidquant.quant import quantize
from vidquant.calibrate import calibrate_ptq
from vidquant.quant.checkpoint import save_quantized
from tests.runtime.graphs import tiny_input

ROWS = ["PyTorch FP32", "PyTorch fake-quant", "ONNX Runtime FP32", "ONNX Runtime INT8"]


def _table_rows(out: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("backend")) + 2
    return [line for line in lines[start:] if line.startswith(("PyTorch", "ONNX", "OpenVINO"))]


def test_bench_with_vidquant_export(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "tiny-convnet", "--runs", "3", "--threads", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    rows = _table_rows(text)
    assert [row.split("  ")[0] for row in rows][:4] == ROWS
    fallbacks = json.loads(out.read_text())["int8_deployability"]
    named = [line.split()[-1] for line in text.splitlines() if line.startswith("  float fallback: ")]
    assert named and named == [n["name"] for n in fallbacks["nodes"] if n["category"] == "float"]
    int8 = json.loads(out.read_text())["backends"]["ONNX Runtime INT8"]
    # The exported graph is checked against the fake-quant model it was exported from.
    assert int8["compared_to"] == "PyTorch fake-quant" and int8["rel_err"] < 0.05
    assert int8["note"] == "export, activations uint8"


def test_bench_graph_scope_decoder_runs_all_integer(tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = ["bench", "dcvc-rt-small-decoder", "--recipe", "w8a8-static", "--runs", "2", "--warmup", "1",
            "--threads", "1", "--input-shape", "1x64x8x8", "--input-shape", "1x48x1x1", "--input-shape", "1x48x4x4",
            "--json", str(out)]
    assert main(argv) == 0
    assert "float fallbacks: none" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["int8_deployability"]["counts"]["float"] == 0
    assert data["backends"]["ONNX Runtime INT8"]["rel_err"] < 0.1


def test_bench_ort_static_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(["bench", "tiny-convnet", "--runs", "3", "--threads", "1", "--input-shape", "1x3x32x32",
                 "--int8-path", "ort-static", "--keep-onnx", str(tmp_path / "onnx"), "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert [row.split("  ")[0] for row in _table_rows(text)][:4] == ROWS
    assert "int8 U8S8" in text and "CPU: " in text and "allocator: " in text
    assert "INT8 graph: integer compute " in text
    data = json.loads(out.read_text())
    assert list(data["backends"])[:4] == ROWS
    for row in data["backends"].values():
        assert row["min_ms"] <= row["median_ms"] and row["size_mb"] > 0
    int8, fp32 = data["backends"]["ONNX Runtime INT8"], data["backends"]["ONNX Runtime FP32"]
    assert int8["size_mb"] < fp32["size_mb"] and int8["rel_err"] < 0.1
    assert data["machine"]["cpu_model"] and "avx2" in data["machine"]["cpu_flags"]
    deploy = data["int8_deployability"]
    assert deploy["counts"]["integer"] > 0 and deploy["path"].endswith("int8.onnx")
    assert data["input_shapes"] == [[1, 3, 32, 32]] and data["activation_type"] == "uint8"
    assert data["command"].startswith("vidquant bench tiny-convnet ") and "--int8-path ort-static" in data["command"]
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == ["fp32.onnx", "int8.onnx"]


def test_bench_a_checkpoint(tmp_path, capsys):
    model = calibrate_ptq(quantize(create_model("tiny-convnet"), "w8a8-lsq"), [tiny_input(seed) for seed in range(2)])
    save_quantized(model, tmp_path / "tiny.safetensors")
    code = main(["bench", str(tmp_path / "tiny.safetensors"), "--runs", "1", "--warmup", "0", "--threads", "1",
                 "--input-shape", "1x3x32x32", "--int8-path", "ort-static"])
    assert code == 0
    out = capsys.readouterr().out
    assert "checkpoint tiny.safetensors" in out and len(_table_rows(out)) >= 4


@pytest.mark.parametrize(
    "argv, message",
    [
        (["tiny-convnet", "--input-shape", "1x3xfoo"], "input shape '1x3xfoo' is not of the form NxCxHxW"),
        (["tiny-convnet", "--input-shape", "1x4x32x32"], "input shape 1x4x32x32 does not fit the model: "),
        (["tiny-convnett"], "unknown model 'tiny-convnett' (did you mean tiny-convnet"),
        (["tiny-convnet", "--recipe", "int3"], "unknown recipe 'int3'"),
        (["missing.safetensors"], "missing.safetensors does not exist"),
        (["x.safetensors", "--recipe", "fp16"], "x.safetensors is already quantized; --recipe and --quant go with a model name"),
        (["tiny-convnet", "--runs", "0"], "runs must be >= 1 and warmup >= 0, got runs=0"),
    ],
)
def test_bad_input_is_one_line(argv, message, capsys):
    assert main(["bench", "--runs", "1", "--int8-path", "ort-static", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vidquant bench: error: ") and message in err[0]


def test_error_from_the_command_line_has_no_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "vidquant", "bench", "tiny-convnet", "--input-shape", "0x3x8x8"],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "vidquant bench: error: input shape '0x3x8x8' must have positive sizes"
    ]
