"""Symmetric quantizers' zero points are always zero: checkpoints leave them out and still reload."""

import torch
import torch.nn as nn

from vidquant import quantize
from vidquant.io.checkpoint import read_safetensors
from vidquant.quant.checkpoint import load_quantized, save_quantized


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(4, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 1)).eval()


def test_symmetric_zero_points_are_left_out_and_reload(tmp_path):
    model = quantize(_net(), "int4-block128")
    path = tmp_path / "m.safetensors"
    save_quantized(model, path)
    tensors, _ = read_safetensors(path)
    assert not [key for key in tensors if key.endswith("zero_point")]
    assert [key for key in model.state_dict() if key.endswith("zero_point")]
    x = torch.randn(2, 4, 9, 9)
    with torch.no_grad():
        assert torch.equal(load_quantized(_net(), path)(x), model(x))


def test_asymmetric_zero_points_are_kept(tmp_path):
    from vidquant.quant import QuantSpec, Recipe

    recipe = Recipe("asym", "asymmetric int8 weights", weight=QuantSpec(bits=8, symmetric=False))
    model = quantize(_net(), recipe)
    with torch.no_grad():
        model(torch.randn(1, 4, 9, 9))
    path = tmp_path / "m.safetensors"
    save_quantized(model, path)
    tensors, _ = read_safetensors(path)
    assert [key for key in tensors if key.endswith("zero_point")]
    x = torch.randn(2, 4, 9, 9)
    with torch.no_grad():
        assert torch.equal(load_quantized(_net(), path)(x), model(x))
