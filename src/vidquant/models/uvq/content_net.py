"""content_net: bilinear resize to 256x256, trunk, 2x2 head -> (N, 8, 8, 128) channel-last (SPEC.md 3)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from vidquant.models.uvq.config import ContentConfig
from vidquant.models.uvq.trunk import build_features


class ContentNet(nn.Module):
    """What the frame shows; state-dict keys equal the official core network's (``features.*``)."""

    example_input_shapes = ((1, 3, 1080, 1920),)  # official shapes (export, bench)

    def __init__(self, config: ContentConfig | None = None) -> None:
        super().__init__()
        self.config = config or ContentConfig()
        self.features = build_features(self.config.trunk)

    def resize(self, frames: torch.Tensor) -> torch.Tensor:
        """Point-sampled bilinear resize (half-pixel centres, no anti-aliasing), as upstream."""
        return F.interpolate(
            frames, size=self.config.resize, mode="bilinear", align_corners=False, antialias=False
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (N, 3, H, W) in [-1, 1] -> features (N, h, w, C) channel-last."""
        return self.features(self.resize(frames)).permute(0, 2, 3, 1)
