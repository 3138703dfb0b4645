"""distortion_net: 3x3 patches, trunk, head, 5x13 max-pool, re-tiled to (N, 24, 24, 128) (SPEC.md 4)."""

from __future__ import annotations

import torch
import torch.nn as nn

from vidquant.errors import VidquantError
from vidquant.models.uvq.config import DistortionConfig
from vidquant.models.uvq.trunk import build_features


class DistortionNet(nn.Module):
    """How the frame is degraded, seen per full-resolution patch; keys equal the official ones."""

    example_input_shapes = ((1, 3, 1080, 1920),)  # official shapes (export, bench)

    def __init__(self, config: DistortionConfig | None = None) -> None:
        super().__init__()
        self.config = config or DistortionConfig()
        self.features = build_features(self.config.trunk)
        self.pool = nn.MaxPool2d(self.config.pool, stride=1)

    def to_patches(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N*rows*cols, C, H/rows, W/cols), frame-major then row-major."""
        rows, cols = self.config.grid
        n, c, h, w = frames.shape
        if h % rows or w % cols:
            raise VidquantError(
                f"distortion_net needs frames that split into {rows}x{cols} patches, got {h}x{w}"
            )
        x = frames.reshape(n, c, rows, h // rows, cols, w // cols)
        return x.permute(0, 2, 4, 1, 3, 5).reshape(n * rows * cols, c, h // rows, w // cols)

    def patch_features(self, frames: torch.Tensor) -> torch.Tensor:
        """Per-patch pooled features (N*rows*cols, h, w, C) channel-last."""
        return self.pool(self.features(self.to_patches(frames))).permute(0, 2, 3, 1)

    def retile(self, patches: torch.Tensor) -> torch.Tensor:
        """Write patch (n, r, c)'s map at block (r, c) of frame n's map: (N, rows*h, cols*w, C)."""
        rows, cols = self.config.grid
        total, h, w, c = patches.shape
        x = patches.reshape(total // (rows * cols), rows, cols, h, w, c)
        return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, rows * h, cols * w, c)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (N, 3, 1080, 1920) in [-1, 1] -> features (N, 24, 24, 128) channel-last."""
        return self.retile(self.patch_features(frames))
