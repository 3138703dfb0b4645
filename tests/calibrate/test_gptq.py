"""GPTQ rounding: stays on the locked grid, beats round-to-nearest on the layer's own inputs."""

from __future__ import annotations

import copy

import torch
import torch.nn as nn

from vidquant.calibrate.gptq import collect_input_stats, gemm_columns, gptq_sequential
from vidquant.quant import quantize
from vidquant.quant.api import quant_layers


def _correlated(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Inputs with strongly correlated channels (as images have), where GPTQ has room to help."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(shape[0], 1, *shape[2:], generator=g)
    return base + 0.3 * torch.randn(shape, generator=g)


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.SiLU(), nn.Conv2d(16, 16, 3, groups=16), nn.SiLU(),
                         nn.Conv2d(16, 4, 1), nn.Flatten(), nn.LazyLinear(3)).eval()


def _output_error(float_net: nn.Module, quant_net: nn.Module, inputs: list[torch.Tensor]) -> float:
    with torch.no_grad():
        return sum(float((float_net(x) - quant_net(x)).pow(2).sum()) for x in inputs)


def test_gemm_columns_reproduce_grouped_convolution() -> None:
    conv = nn.Conv2d(6, 6, 3, stride=2, groups=3)
    x = torch.randn(2, 6, 9, 9)
    cols = gemm_columns(conv, x)  # (groups, K, N)
    w = conv.weight.reshape(3, 2, -1)
    y = (w @ cols).reshape(3, 2, 2, -1).permute(2, 0, 1, 3).reshape(2, 6, 4, 4)
    torch.testing.assert_close(y + conv.bias.reshape(1, -1, 1, 1), conv(x), rtol=1e-5, atol=1e-5)


def test_gptq_beats_round_to_nearest_and_stays_on_grid() -> None:
    float_net = _net()
    calib = [_correlated((1, 8, 12, 12), seed) for seed in range(6)]
    float_net(calib[0])  # materialise the lazy linear
    evaluation = [_correlated((1, 8, 12, 12), seed) for seed in range(100, 104)]
    nearest = quantize(_copy(float_net), "weight-only-int8")
    rounded = quantize(_copy(float_net), "weight-only-int8")
    for model in (nearest, rounded):
        for _, layer in quant_layers(model):
            layer.weight_quant.initialize_from(layer.weight.detach())
    ratios = gptq_sequential(rounded, calib)
    assert len(ratios) == 4 and all(0 < r < 1 for r in ratios.values())
    for _, layer in quant_layers(rounded):  # new weights are exactly representable on the old grid
        torch.testing.assert_close(layer.weight_quant(layer.weight.detach()), layer.weight.detach(), rtol=0, atol=0)
    assert _output_error(float_net, rounded, evaluation) < 0.8 * _output_error(float_net, nearest, evaluation)


def test_bias_correction_removes_the_mean_output_shift() -> None:
    torch.manual_seed(1)
    conv = nn.Conv2d(4, 8, 1).eval()
    calib = [torch.rand(1, 4, 6, 6) + 2.0 for _ in range(4)]  # positive inputs: rounding shifts the mean
    model = quantize(nn.Sequential(_copy(conv)), "weight-only-int8")
    layer = dict(quant_layers(model))["0"]
    layer.weight_quant.initialize_from(layer.weight.detach())
    gptq_sequential(model, calib)
    with torch.no_grad():
        shift = torch.stack([(model(x) - conv(x)).mean((0, 2, 3)) for x in calib]).mean(0)
    assert float(shift.abs().max()) < 1e-5


def test_input_stats_see_every_batch_once() -> None:
    model = quantize(_copy(_net()), "weight-only-int8")
    model(torch.zeros(1, 8, 12, 12))
    name, first = next(iter(quant_layers(model)))
    stats = collect_input_stats(model, first, [torch.ones(1, 8, 12, 12)] * 3)
    assert stats.count == 3 * 12 * 12 and stats.hessian.shape == (1, 72, 72)


def _copy(module: nn.Module) -> nn.Module:
    return copy.deepcopy(module)
