"""Integer-kernel arithmetic in PyTorch: an emulated graph-scope model gives exactly ONNX Runtime's codes."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn

from vidquant.calibrate import calibrate_ptq
from vidquant.export import export_onnx
from vidquant.quant import quantize
from vidquant.quant.integer_kernels import emulate_integer_kernels
from vidquant.quant.recipes import integer_form
from vidquant.runtime import OrtModel


class GatedBlock(nn.Module):
    """Every op kind a DCVC-RT decoder network uses: 3x3, 1x1 and depthwise convolutions, adds
    (same shape, per-channel broadcast, a constant), multiplies (gates, a learned per-channel
    scale, a constant, a row picked from a parameter table), sigmoid, chunk, slicing, concat and clamp."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(16, 64, 3, padding=1)
        self.depthwise = nn.Conv2d(64, 64, 3, padding=1, groups=64)
        self.pointwise = nn.Conv2d(64, 64, 1)
        self.scale = nn.Parameter(torch.rand(1, 64, 1, 1) + 0.5)
        self.shift = nn.Parameter(torch.randn(1, 64, 1, 1))
        self.rows = nn.Parameter(torch.rand(4, 64) + 0.5)  # per-qp rows, as the codec picks them

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        gated = torch.sigmoid(4.0 * y) * y
        z = self.depthwise(gated) + y
        w = self.pointwise(z) * self.scale + self.shift * self.rows[2].reshape(1, -1, 1, 1)
        a, b = w.chunk(2, dim=1)
        return torch.cat((a * torch.sigmoid(b), (z[:, :32] + 1.0).clamp(0.0, 2.0)), dim=1)


def _calibrated(seed: int, shape=(1, 16, 72, 88), recipe="w8a8-static") -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    x = torch.randn(shape) * (1 + seed)
    model = GatedBlock().eval()
    quantized = quantize(model, recipe, example_inputs=[x])
    calibrate_ptq(quantized, [[x]])
    return quantized, x


@pytest.mark.parametrize("seed, recipe", [(0, "w8a8-static"), (1, "w8a8-static"), (2, "w8a8-static"),
                                          (0, integer_form("w8a8-lsq")), (1, integer_form("int8-lsq-w"))])
def test_emulated_model_reproduces_onnx_runtime_integer_kernels_exactly(tmp_path, seed, recipe):
    """Unsigned activations (w8a8-static) and signed ones (w8a8-lsq's integer form: int8 codes the
    graph stores shifted into uint8, zero point 128)."""
    quantized, x = _calibrated(seed, recipe=recipe)
    export_onnx(quantized, [x], tmp_path / "block.onnx")
    runtime = OrtModel(tmp_path / "block.onnx", threads=1)
    emulated = copy.deepcopy(quantized)
    assert emulate_integer_kernels(emulated) == []  # every op of the block has an integer form
    inputs = [x, torch.randn_like(x) * 3 + 0.5]  # calibration data and a shifted range (clamping)
    with torch.no_grad():
        for inp in inputs:
            assert torch.equal(emulated(inp), runtime(inp))


def test_emulation_stays_within_one_code_of_fake_quantization():
    quantized, x = _calibrated(0)
    emulated = copy.deepcopy(quantized)
    emulate_integer_kernels(emulated)
    with torch.no_grad():
        fake, exact = quantized(x), emulated(x)
    output_step = quantized.get_submodule(_last_quantizer(quantized)).scale.item()
    differing = (fake - exact).abs() > output_step / 2
    assert float(differing.float().mean()) < 1e-3  # only where float rounding met a half step


def test_lone_convolution_with_its_own_quantizers_is_emulated(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(1, 64, 40, 48) * 2
    conv = quantize(nn.Conv2d(64, 96, 1).eval(), "w8a8-static", example_inputs=[x])
    calibrate_ptq(conv, [[x]])
    export_onnx(conv, [x], tmp_path / "conv.onnx")
    state = {key: value.clone() for key, value in conv.state_dict().items()}
    emulate_integer_kernels(conv)
    with torch.no_grad():
        assert torch.equal(conv(x), OrtModel(tmp_path / "conv.onnx", threads=1)(x))
    assert conv.state_dict().keys() == state.keys()  # parameters and keys untouched
    copied = copy.deepcopy(conv)  # the emulating forward follows the copy's own parameters
    with torch.no_grad():
        copied.weight.mul_(-1.0)
        assert not torch.equal(copied(x), conv(x))
        before = conv(x)  # the integer codes follow an in-place change of the weights
        conv.weight.mul_(-1.0)
        assert torch.equal(conv(x), copied(x)) and not torch.equal(conv(x), before)


def test_ops_without_an_integer_form_are_listed_and_layer_recipes_untouched():
    class Tanh(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.tanh(x) + x

    x = torch.randn(1, 8, 8, 8)
    quantized = quantize(Tanh().eval(), "w8a8-static", example_inputs=[x])
    calibrate_ptq(quantized, [[x]])
    assert emulate_integer_kernels(quantized) == ["tanh"]

    layered = quantize(nn.Sequential(nn.Conv2d(8, 8, 3)).eval(), "w8a8-lsq")
    calibrate_ptq(layered, [[x]])
    with torch.no_grad():
        before = layered(x)
        assert emulate_integer_kernels(layered) == []
        assert torch.equal(layered(x), before)  # layer scope: no (op, output quantizer) pairs


def _last_quantizer(model: nn.Module) -> str:
    return [name for name, _ in model.named_children() if name.startswith("graph_quant")][-1]
