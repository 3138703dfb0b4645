"""Building blocks shared by DMCI and DMC (SPEC section 1).

Parameter names and order follow the official state dicts, so the blocks are small
``nn.Module`` classes whose attribute names are part of the checkpoint format.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

Row = int | torch.Tensor  # one qp row, or one per batch element (training)


def wsilu(x: torch.Tensor) -> torch.Tensor:
    """SiLU with slope 4 inside the sigmoid."""
    return torch.sigmoid(4.0 * x) * x


class WSiLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return wsilu(x)


class WSiLUChunkAdd(nn.Module):
    """Gated pair-sum: WSiLU on every channel, then first half plus second half."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = wsilu(x).chunk(2, dim=1)
        return first + second


def conv1x1(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1)


class DepthConvBlock(nn.Module):
    """Depthwise conv branch plus gated FFN branch, both residual on the adaptor output."""

    def __init__(self, cin: int, cout: int, shortcut: bool = False, force_adaptor: bool = False):
        super().__init__()
        self.adaptor = conv1x1(cin, cout) if (cin != cout or force_adaptor) else None
        self.dc = nn.Sequential(
            conv1x1(cout, cout), WSiLU(), nn.Conv2d(cout, cout, 3, padding=1, groups=cout), conv1x1(cout, cout)
        )
        self.ffn = nn.Sequential(conv1x1(cout, 4 * cout), WSiLUChunkAdd(), conv1x1(2 * cout, cout))
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = self.adaptor(x) if self.adaptor is not None else x
        out = base + self.dc(base)
        out = out + self.ffn(out)
        return out + base if self.shortcut else out


class SubpelConv2x(nn.Module):
    """Convolution to 4x the channels followed by a 2x pixel shuffle."""

    def __init__(self, cin: int, cout: int, kernel: int, padding: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(cin, 4 * cout, kernel, padding=padding), nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ResidualBlockWithStride2(nn.Module):
    """2x2 stride-2 conv, then a DepthConvBlock with shortcut: halves the resolution."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.down = nn.Conv2d(cin, cout, 2, stride=2)
        self.conv = DepthConvBlock(cout, cout, shortcut=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.down(x))


class ResidualBlockUpsample(nn.Module):
    """1x1 sub-pixel conv, then a DepthConvBlock with shortcut: doubles the resolution."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.up = SubpelConv2x(cin, cout, 1, 0)
        self.conv = DepthConvBlock(cout, cout, shortcut=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.up(x))


class Bitparm(nn.Module):
    """One monotone layer of the factorized z estimator; one parameter row per qp."""

    def __init__(self, rows: int, channels: int, final: bool = False):
        super().__init__()
        self.h = nn.Parameter(torch.zeros(rows, channels, 1, 1))
        self.b = nn.Parameter(torch.zeros(rows, channels, 1, 1))
        self.a = None if final else nn.Parameter(torch.zeros(rows, channels, 1, 1))

    def forward(self, x: torch.Tensor, row: Row) -> torch.Tensor:
        x = x * F.softplus(qrow(self.h, row)) + qrow(self.b, row)
        if self.a is None:
            return x
        return x + torch.tanh(x) * torch.tanh(qrow(self.a, row))


class BitEstimator(nn.Module):
    """Factorized CDF of z per (qp row, channel): sigmoid of four monotone layers."""

    def __init__(self, rows: int, channels: int):
        super().__init__()
        self.f1 = Bitparm(rows, channels)
        self.f2 = Bitparm(rows, channels)
        self.f3 = Bitparm(rows, channels)
        self.f4 = Bitparm(rows, channels, final=True)

    def cdf(self, x: torch.Tensor, row: Row) -> torch.Tensor:
        """CDF of ``x`` [1, C, H, W] (or broadcastable) at qp row ``row``."""
        for layer in (self.f1, self.f2, self.f3, self.f4):
            x = layer(x, row)
        return torch.sigmoid(x)

    def likelihood(self, z_hat: torch.Tensor, row: Row) -> torch.Tensor:
        return self.cdf(z_hat + 0.5, row) - self.cdf(z_hat - 0.5, row)


def qrow(table: torch.Tensor, qp: Row) -> torch.Tensor:
    """Row ``qp`` of a per-qp table, [1, C, 1, 1]; a tensor of qps (training) gives [B, C, 1, 1]."""
    return table[qp] if isinstance(qp, torch.Tensor) else table[qp : qp + 1]


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Edge-replicate on the right and bottom up to a multiple of ``multiple``."""
    height, width = x.shape[-2:]
    pad_b = (-height) % multiple
    pad_r = (-width) % multiple
    if pad_b == 0 and pad_r == 0:
        return x
    return F.pad(x, (0, pad_r, 0, pad_b), mode="replicate")


def latent_size(height: int, width: int) -> tuple[int, int]:
    return math.ceil(height / 16), math.ceil(width / 16)


def hyper_shape(channels: int, height: int, width: int) -> tuple[int, int, int, int]:
    return (1, channels, math.ceil(height / 64), math.ceil(width / 64))
