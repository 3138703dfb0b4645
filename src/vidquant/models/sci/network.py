"""EfficientSCI reconstruction network (Wang et al., CVPR 2023) with Q-SCI's switchable additions.

Layout (module names matter: quantization overrides address them by glob):
  fem       feature extraction, 3D convs, full resolution -> half resolution, 4*width channels
  resdnet   ResDNet blocks (dense groups of CFormer blocks: space conv + time attention + FFN)
  up_conv   1x1x1 conv to 8*width channels, then pixel shuffle back to full resolution
  vrm       video reconstruction, 3D convs down to one channel
Q-SCI switches (SCIConfig): ``fem_shortcut`` / ``vrm_shortcut`` add parallel 1x1x1 convs named
``*.shortcut`` (kept 8-bit by the Q-SCI recipes), ``qk_shift`` adds zero-initialized learnable
per-head shifts to queries and keys.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from vidquant.models.sci.config import SCIConfig
from vidquant.models.sci.forward_model import initial_estimate
from vidquant.models.sci.layers import MatMul, Shift, depth_to_space, space_to_depth


def _act() -> nn.Module:
    return nn.LeakyReLU(0.01, inplace=True)


def _conv(cin: int, cout: int, kernel, stride=1, act: bool = True) -> nn.Module:
    """A 3D conv with 'same' padding, optionally followed by LeakyReLU."""
    kernel = (kernel,) * 3 if isinstance(kernel, int) else tuple(kernel)
    conv = nn.Conv3d(cin, cout, kernel, stride=stride, padding=tuple(k // 2 for k in kernel))
    return nn.Sequential(conv, _act()) if act else conv


class Stage(nn.Module):
    """``main(x)``, plus a parallel 1x1x1 ``shortcut`` when enabled (Q-SCI FEM/VRM), summed.

    ``unshuffle`` > 1 pixel-unshuffles the shortcut's input so it meets a strided main path.
    """

    def __init__(self, cin: int, cout: int, kernel, *, stride=1, act: bool = True,
                 shortcut: bool = False, unshuffle: int = 1) -> None:
        super().__init__()
        self.main = _conv(cin, cout, kernel, stride, act)
        self.unshuffle = unshuffle
        self.shortcut = _conv(cin * unshuffle**2, cout, 1, 1, act) if shortcut else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.main(x)
        if self.shortcut is None:
            return out
        side = space_to_depth(x, self.unshuffle) if self.unshuffle > 1 else x
        return out + self.shortcut(side)


class TimeAttention(nn.Module):
    """Multi-head self-attention along time for every pixel: tokens (N, T, C) -> (N, T, C).

    As in EfficientSCI, q/k/v use half the channels and the scale is (C / heads) ** -0.5.
    """

    def __init__(self, dim: int, heads: int, qk_shift: bool = False) -> None:
        super().__init__()
        self.heads = heads
        self.inner = dim // 2
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * self.inner, bias=False)
        self.proj = nn.Linear(self.inner, dim)
        self.q_shift = Shift(heads) if qk_shift else nn.Identity()
        self.k_shift = Shift(heads) if qk_shift else nn.Identity()
        self.matmul_qk = MatMul()
        self.matmul_av = MatMul()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, _ = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.heads, self.inner // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = self.q_shift(qkv[0]), self.k_shift(qkv[1]), qkv[2]
        attn = self.matmul_qk(q * self.scale, k.transpose(-2, -1)).softmax(dim=-1)
        out = self.matmul_av(attn, v).transpose(1, 2).reshape(n, t, self.inner)
        return self.proj(out)


class CFormerBlock(nn.Module):
    """Space branch (two 1x3x3 convs) + time-attention branch + input, then a residual 3D FFN."""

    def __init__(self, dim: int, heads: int, qk_shift: bool) -> None:
        super().__init__()
        self.scb = nn.Sequential(_conv(dim, dim, (1, 3, 3)), _conv(dim, dim, (1, 3, 3), act=False))
        self.tsab = TimeAttention(dim, heads, qk_shift)
        self.ffn = nn.Sequential(_conv(dim, dim, 3), _conv(dim, dim, 1, act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        tokens = x.permute(0, 3, 4, 2, 1).reshape(b * h * w, t, c)
        time = self.tsab(tokens).reshape(b, h, w, t, c).permute(0, 4, 3, 1, 2)
        mixed = self.scb(x) + time + x
        return self.ffn(mixed) + mixed


class ResDNetBlock(nn.Module):
    """Channels split into groups; group i sees a 1x1x1 fusion of all earlier outputs and its input."""

    def __init__(self, dim: int, groups: int, heads: int, qk_shift: bool) -> None:
        super().__init__()
        group_dim = dim // groups
        self.groups = groups
        self.cformer = nn.ModuleList(CFormerBlock(group_dim, heads, qk_shift) for _ in range(groups))
        self.dense = nn.ModuleList(_conv(group_dim * (i + 1), group_dim, 1) for i in range(1, groups))
        self.fuse = nn.Conv3d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inputs = torch.chunk(x, self.groups, dim=1)
        outputs = [self.cformer[0](inputs[0])]
        for i in range(1, self.groups):
            fused = self.dense[i - 1](torch.cat([*outputs, inputs[i]], dim=1))
            outputs.append(self.cformer[i](fused))
        return x + self.fuse(torch.cat(outputs, dim=1))


def _fem(width: int, shortcut: bool) -> nn.Sequential:
    """1 -> w (3x7x7) -> 2w (3x3x3) -> 4w (3x3x3, spatial stride 2)."""
    return nn.Sequential(
        Stage(1, width, (3, 7, 7), shortcut=shortcut),
        Stage(width, 2 * width, 3, shortcut=shortcut),
        Stage(2 * width, 4 * width, 3, stride=(1, 2, 2), shortcut=shortcut, unshuffle=2),
    )


def _vrm(width: int, shortcut: bool) -> nn.Sequential:
    """2w -> 2w (3x3x3) -> w (1x1x1) -> 1 (3x3x3, no activation)."""
    return nn.Sequential(
        Stage(2 * width, 2 * width, 3, shortcut=shortcut),
        Stage(2 * width, width, 1, shortcut=shortcut),
        Stage(width, 1, 3, act=False, shortcut=shortcut),
    )


class EfficientSCI(nn.Module):
    """Reconstructs T frames (B, T, H, W) from a snapshot y (B, H, W) and its masks (T or B, T, H, W).

    H and W must be even (one stride-2 stage).
    """

    def __init__(self, config: SCIConfig) -> None:
        super().__init__()
        self.config = config
        width = config.width
        self.fem = _fem(width, config.fem_shortcut)
        self.resdnet = nn.Sequential(
            *(ResDNetBlock(4 * width, config.groups, config.heads, config.qk_shift) for _ in range(config.units))
        )
        self.up_conv = nn.Conv3d(4 * width, 8 * width, 1)
        self.vrm = _vrm(width, config.vrm_shortcut)

    def forward(self, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        features = self.resdnet(self.fem(initial_estimate(y, mask)))
        return self.vrm(depth_to_space(self.up_conv(features), 2)).squeeze(1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
