"""The one MAC counter (vidquant.analysis.count_macs): its convention per layer type, on real and meta tensors."""

import copy

import torch
import torch.nn as nn

from vidquant.analysis import count_macs
from vidquant.quant import quantize
from vidquant.quant.modules import MatMul, QuantLayer


class Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 3, padding=1, groups=2)
        self.up = nn.ConvTranspose2d(6, 2, 2, stride=2)
        self.fc = nn.Linear(16, 5)
        self.matmul = MatMul()
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(self.up(self.act(self.conv(x))))  # (1, 2, 16, 5)
        return self.matmul(y, y.transpose(-1, -2))


def test_macs_per_layer_type():
    counts = count_macs(Mixed(), [torch.randn(1, 4, 8, 8)])
    assert counts == {
        "conv": 6 * 8 * 8 * (4 // 2) * 9,  # outputs x input channels per group x kernel
        "up": 6 * 8 * 8 * 2 * 4,  # transposed: inputs x output channels x kernel
        "fc": 2 * 16 * 5 * 16,  # outputs x in_features
        "matmul": 2 * 16 * 16 * 5,  # outputs x inner dimension
    }  # the activation is not counted


def test_shapes_only_and_quantized_layers_count_the_same():
    model = Mixed()
    x = torch.randn(1, 4, 8, 8)
    counts = count_macs(model, [x])
    assert count_macs(model, [x.to("meta")], shapes_only=True) == counts
    assert next(model.parameters()).device.type == "cpu"  # the meta run worked on a copy
    student = quantize(copy.deepcopy(model), "w8a8-lsq")
    assert all(isinstance(getattr(student, name), QuantLayer) for name in counts)
    assert count_macs(student, [x]) == counts
