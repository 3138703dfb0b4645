"""Small building blocks kept as modules so that quantization can swap them by type or name."""

from __future__ import annotations

import torch
import torch.nn as nn

from vidquant.quant.modules import MatMul  # noqa: F401  (attention products, swapped by quantize)


class Shift(nn.Module):
    """Learnable per-head offset added to queries or keys (Q-SCI's q/k shift), zero at start."""

    def __init__(self, heads: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, heads, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias


def space_to_depth(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Pixel-unshuffle each frame of a (B, C, T, H, W) tensor: (B, C*f*f, T, H/f, W/f)."""
    return nn.functional.pixel_unshuffle(x.transpose(1, 2), factor).transpose(1, 2)


def depth_to_space(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Pixel-shuffle each frame of a (B, C, T, H, W) tensor: (B, C/(f*f), T, H*f, W*f)."""
    return nn.functional.pixel_shuffle(x.transpose(1, 2), factor).transpose(1, 2)
