"""Building blocks of the UVQ trunk: TF-"same" padded convs, conv units, squeeze-excitation, MBConv.

Every convolution is a plain ``nn.Conv2d`` child (named ``conv``) so that quantization can swap
it by module type; the padding lives in the wrapper, not in the convolution.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from vidquant.models.uvq.config import MBConvSpec


def same_padding(length: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" zero padding (before, after) for one axis; the odd pixel goes after."""
    total = max((-(-length // stride) - 1) * stride + kernel - length, 0)
    return total // 2, total - total // 2


class SamePadConv2d(nn.Module):
    """Zero-pad like TensorFlow "SAME" from the run-time input size, then an unpadded conv."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = False
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel_h, kernel_w = self.conv.kernel_size
        stride_h, stride_w = self.conv.stride
        top, bottom = same_padding(int(x.shape[-2]), kernel_h, stride_h)
        left, right = same_padding(int(x.shape[-1]), kernel_w, stride_w)
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return self.conv(x)


def conv_unit(
    c_in: int, c_out: int, kernel: int, stride: int, eps: float, groups: int = 1, act: bool = True
) -> nn.Sequential:
    """Same-padded conv -> BatchNorm -> optional SiLU (keys ``.0.conv.weight``, ``.1.*``)."""
    layers: list[nn.Module] = [
        SamePadConv2d(c_in, c_out, kernel, stride, groups),
        nn.BatchNorm2d(c_out, eps=eps),
    ]
    if act:
        layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """Channel gate: sigmoid(fc2(silu(fc1(mean_hw(x))))) * x, with 1x1 convs carrying biases."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.act = nn.SiLU()
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean(dim=(2, 3), keepdim=True)
        return x * self.gate(self.fc2(self.act(self.fc1(scale))))


class MBConv(nn.Module):
    """Inverted residual block: [expand] -> depthwise -> SE -> project (+ input when shapes allow).

    Stochastic depth of the training graph is the identity at inference and is left out.
    """

    def __init__(self, spec: MBConvSpec, eps: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        if spec.hidden != spec.c_in:
            layers.append(conv_unit(spec.c_in, spec.hidden, 1, 1, eps))
        layers += [
            conv_unit(spec.hidden, spec.hidden, spec.kernel, spec.stride, eps, groups=spec.hidden),
            SqueezeExcite(spec.hidden, spec.squeeze),
            conv_unit(spec.hidden, spec.c_out, 1, 1, eps, act=False),
        ]
        self.block = nn.Sequential(*layers)
        self.residual = spec.residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.residual else out


def fold_batchnorm(net: nn.Module) -> nn.Module:
    """In place: every SamePadConv2d -> BatchNorm2d pair becomes one biased conv (BN -> Identity)."""
    for module in net.modules():
        if not isinstance(module, nn.Sequential):
            continue
        for index in range(len(module) - 1):
            conv, norm = module[index], module[index + 1]
            if isinstance(conv, SamePadConv2d) and isinstance(norm, nn.BatchNorm2d):
                conv.conv = _folded_conv(conv.conv, norm)
                module[index + 1] = nn.Identity()
    return net


def _folded_conv(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> nn.Conv2d:
    folded = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, 0, conv.dilation, conv.groups, bias=True
    )
    with torch.no_grad():
        factor = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
        folded.weight.copy_(conv.weight * factor.reshape(-1, 1, 1, 1))
        folded.bias.copy_((bias - norm.running_mean) * factor + norm.bias)
    return folded
