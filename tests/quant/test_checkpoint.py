"""Acceptance 3 (real bytes) and 4 (save -> load bit-identical, no re-initialization)."""

import copy
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open

from vidquant import load_quantized, quantize, report, save_quantized
from vidquant.calibrate import calibrate_ptq
from vidquant.errors import VidquantError
from vidquant.models import create_model
from vidquant.models.tiny import example_batches
from vidquant.quant import list_recipes, quantizers


def _tensor_bytes(path) -> int:
    with safe_open(str(path), framework="pt") as handle:
        return sum(handle.get_tensor(k).numel() * handle.get_tensor(k).element_size() for k in handle.keys())


@pytest.mark.parametrize("recipe", [r.name for r in list_recipes()])
def test_save_load_forward_is_bit_identical(tmp_path, recipe):
    batches = example_batches(3)
    model = quantize(create_model("tiny-convnet"), recipe)
    calibrate_ptq(model, batches[:2])
    path = tmp_path / "model.safetensors"
    save_quantized(model, path)  # rounds steps with a step_dtype in place: the file is this model
    expected = model(batches[2])
    loaded = load_quantized(create_model("tiny-convnet"), path)
    before = {name: q.scale.clone() for name, q in quantizers(loaded) if hasattr(q, "scale")}
    assert torch.equal(loaded(batches[2]), expected)
    after = {name: q.scale for name, q in quantizers(loaded) if hasattr(q, "scale")}
    assert all(torch.equal(before[name], after[name]) for name in before)  # no re-initialization
    assert report(loaded).packed_bytes == _tensor_bytes(path)


def test_int4_block128_reported_size_is_the_bytes_written(tmp_path):
    model = quantize(torch.nn.Sequential(torch.nn.Linear(256, 64), torch.nn.Linear(64, 300)), "int4-block128")
    path = tmp_path / "int4.safetensors"
    save_quantized(model, path)
    result = report(model)
    assert result.packed_bytes == _tensor_bytes(path)
    with safe_open(str(path), framework="pt") as handle:
        codes = handle.get_tensor("0.weight.__codes__")
    assert codes.dtype == torch.uint8 and codes.numel() == 256 * 64 // 2


def test_not_a_checkpoint_is_a_one_line_error(tmp_path):
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes(b"this is not a checkpoint")
    with pytest.raises(VidquantError, match="is not a readable safetensors file"):
        load_quantized(create_model("tiny-convnet"), bogus)
    result = subprocess.run(
        [sys.executable, "-m", "vidquant", "inspect", str(bogus)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("vidquant inspect: error:")


def test_plain_safetensors_without_header_is_rejected(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(VidquantError, match=r"is not a vidquant checkpoint"):
        load_quantized(create_model("tiny-convnet"), path)


def test_inspect_prints_the_report(tmp_path):
    model = quantize(create_model("tiny-convnet"), "w4a8-lsq")
    calibrate_ptq(model, example_batches(2))
    path = tmp_path / "m.safetensors"
    save_quantized(model, path)
    result = subprocess.run([sys.executable, "-m", "vidquant", "inspect", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "quantized tensors: 7/14 (50.0 %)" in result.stdout and "decoder.0" in result.stdout


def test_report_counts_macs_and_bitops():
    model = quantize(copy.deepcopy(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3))), "w4a8-lsq")
    result = report(model, example_inputs=[torch.randn(1, 3, 10, 10)])
    assert result.macs == 8 * 8 * 8 * 3 * 9
    assert result.bit_ops == result.macs * 4 * 8
    assert result.rows[0].sqnr_db > 10
