"""No CPU class computes other integers: the exported graphs' int16 pair sums cannot saturate.

Without VNNI (AVX2, AVX-512BW), ONNX Runtime's uint8 x int8 convolution and GEMM kernels multiply
with ``vpmaddubsw``: adjacent products along the reduction are added in int16 with saturation, then
widened. A numpy model of that instruction over the exported graph's weight codes and the
worst-case uint8 inputs (255 where a weight is positive, 0 where it is negative, and the reverse)
shows that no pair can leave int16 for the graph-scope recipe's 7-bit codes, and that 8-bit codes
would: so the sums are the exact int32 sums PyTorch's emulation and VNNI compute, on every CPU.
The same worst-case inputs then run through ONNX Runtime and the emulation, code for code.
"""

from __future__ import annotations

import copy

import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn
from onnx import numpy_helper

from tests.quant.test_integer_kernels import GatedBlock
from vidquant.calibrate import calibrate_ptq
from vidquant.export import export_onnx
from vidquant.quant import quantize
from vidquant.quant.integer_kernels import emulate_integer_kernels, pair_sum_range, saturating_convolutions
from vidquant.quant.recipes import Recipe, resolve_recipe
from vidquant.runtime import OrtModel

INT16_MAX, INT16_MIN = 32767, -32768


def vpmaddubsw_pair_sums(codes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Exact pair sums a[2i] w[2i] + a[2i+1] w[2i+1] of uint8 rows ``codes`` [N, K] and int8 rows
    ``weights`` [M, K] (K padded with a zero), as [N, M, K/2] int64: what vpmaddubsw would have to
    hold in int16."""
    if codes.shape[1] % 2:
        codes = np.pad(codes, ((0, 0), (0, 1)))
        weights = np.pad(weights, ((0, 0), (0, 1)))
    products = codes.astype(np.int64)[:, None, :] * weights.astype(np.int64)[None, :, :]
    return products[..., 0::2] + products[..., 1::2]


def worst_case_rows(weights: np.ndarray) -> np.ndarray:
    """Per output channel, the two uint8 reduction rows that drive every pair to its extremes."""
    return np.concatenate([np.where(weights > 0, 255, 0), np.where(weights < 0, 255, 0)]).astype(np.uint8)


def exported_conv_weights(path) -> dict[str, np.ndarray]:
    """Each Conv's int8 weight codes from the exported Q/DQ graph, as [M, K] in both reduction
    orders a kernel may pack (NCHW: channel-major; NHWC: channel-minor)."""
    graph = onnx.load(str(path)).graph
    initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    initializers.update({node.output[0]: numpy_helper.to_array(node.attribute[0].t) for node in graph.node
                         if node.op_type == "Constant" and node.attribute[0].name == "value"})
    found = {}
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        dequantize = producers[node.input[1]]
        assert dequantize.op_type == "DequantizeLinear"
        codes = initializers[dequantize.input[0]]
        assert codes.dtype == np.int8
        found[f"{node.name} nchw"] = codes.reshape(codes.shape[0], -1)
        found[f"{node.name} nhwc"] = codes.transpose(0, 2, 3, 1).reshape(codes.shape[0], -1)
    return found


def _check_pairs(path) -> tuple[int, int]:
    """The extreme pair sums of every exported convolution over its worst-case inputs."""
    low, high = 0, 0
    for weights in exported_conv_weights(path).values():
        sums = vpmaddubsw_pair_sums(worst_case_rows(weights), weights)
        low, high = min(low, int(sums.min())), max(high, int(sums.max()))
    return low, high


class Convs(nn.Module):
    """3x3, 1x1 and depthwise convolutions with every weight at the largest code of its channel."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 16, 3, padding=1)
        self.pointwise = nn.Conv2d(16, 16, 1)
        self.depthwise = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for layer in (self.conv, self.pointwise, self.depthwise):
                signs = torch.randint(0, 2, layer.weight.shape, generator=generator) * 2.0 - 1.0
                layer.weight.copy_(signs * 0.05)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.depthwise(self.pointwise(self.conv(x)))


def _eight_bit_graph_recipe() -> Recipe:
    """w8a8-static with the full int8 weight range (integer-kernels/1): what saturates on AVX2."""
    base = resolve_recipe("w8a8-static")
    return Recipe("w8a8-static-8bit", base.description, weight=base.weight.with_bits(8), output=base.output,
                  layer_types=base.layer_types, scope="graph")


def _adversarial_input(model: Convs) -> torch.Tensor:
    """An input of 0 / 1 whose 3x3 patches follow the first convolution's weight signs, output
    channel after output channel (its codes are 0 and 255 once calibrated on itself)."""
    weight = model.conv.weight.detach()
    x = torch.zeros(1, 8, 48, 48)
    for index in range(weight.shape[0]):
        row, col = divmod(index, 4)
        sign = weight[index] if index % 2 == 0 else -weight[index]  # the positive and the negative extreme
        x[0, :, 1 + 12 * row:4 + 12 * row, 1 + 12 * col:4 + 12 * col] = (sign > 0).float()
    return x


def _quantized(recipe, model: nn.Module, calibration: list[torch.Tensor]) -> nn.Module:
    quantized = quantize(model.eval(), recipe, example_inputs=[calibration[0]])
    calibrate_ptq(quantized, [[x] for x in calibration])
    return quantized


def test_graph_scope_weight_codes_cannot_saturate_an_int16_pair(tmp_path):
    x = _adversarial_input(Convs())
    seven = _quantized("w8a8-static", Convs(), [x])
    eight = _quantized(_eight_bit_graph_recipe(), Convs(), [x])
    export_onnx(seven, [x], tmp_path / "seven.onnx")
    export_onnx(eight, [x], tmp_path / "eight.onnx")
    low, high = _check_pairs(tmp_path / "seven.onnx")
    assert INT16_MIN <= low and high <= INT16_MAX  # 7-bit codes: never, for any uint8 input
    assert (low, high) == (-255 * 64 * 2, 255 * 63 * 2)  # the bound is reached: the worst case is real
    low8, high8 = _check_pairs(tmp_path / "eight.onnx")
    assert low8 < INT16_MIN and high8 > INT16_MAX  # the model sees what full int8 codes would do
    # the library's bound agrees with the numpy model, for every convolution
    assert saturating_convolutions(seven) == []
    assert sorted(saturating_convolutions(eight)) == ["conv", "depthwise", "pointwise"]
    assert pair_sum_range(seven.get_submodule("conv").weight_quant.int_codes(seven.conv.weight)) == (low, high)


def test_the_adversarial_input_reaches_both_code_ends(tmp_path):
    """The worst-case input is what the first convolution really reads: codes 0 and 255 only, in
    the weight-sign pattern, so its pair sums reach the bound in ONNX Runtime too."""
    model = Convs()
    x = _adversarial_input(model)
    quantized = _quantized("w8a8-static", model, [x])
    source = quantized.get_submodule("conv").__dict__["input_source"]
    scale, zero = source.scale.detach(), source.zero_points()
    codes = torch.clamp(torch.round(x / scale) + zero, 0, 255)
    assert set(codes.unique().tolist()) == {0.0, 255.0}
    weights = quantized.conv.weight_quant.int_codes(quantized.conv.weight).reshape(16, -1).numpy()
    patch = codes[0, :, 1:4, 1:4].reshape(1, -1).numpy()  # output channel 0's patch
    sums = vpmaddubsw_pair_sums(patch.astype(np.uint8), weights[:1])
    assert int(np.abs(sums).max()) >= 255 * 63 * 2  # every pair at its extreme


@pytest.mark.parametrize("case", ["convs", "gated"])
def test_onnx_runtime_equals_the_emulation_on_worst_case_inputs(tmp_path, case):
    """3x3, 1x1, depthwise convolutions, adds, multiplies, sigmoid, concat and clamp: inputs at
    both ends of every range (and far beyond, clamped) give the same codes in both runtimes."""
    torch.manual_seed(1)
    if case == "convs":
        model = Convs()
        x = _adversarial_input(model)
        inputs = [x, 1.0 - x, x * 50.0 - 20.0]
    else:
        model = GatedBlock()
        x = torch.randn(1, 16, 40, 48)
        inputs = [torch.sign(x), torch.sign(x) * 100.0, -torch.sign(x) * 100.0, torch.full_like(x, 1e4)]
    quantized = _quantized("w8a8-static", model, [x])
    export_onnx(quantized, [x], tmp_path / "model.onnx")
    runtime = OrtModel(tmp_path / "model.onnx", threads=1)
    emulated = copy.deepcopy(quantized)
    assert emulate_integer_kernels(emulated) == []
    with torch.no_grad():
        for inp in inputs:
            assert torch.equal(emulated(inp), runtime(inp))
