"""aggregation_net: pool both feature maps to 4x4, 1x1 conv, LayerNorm, ReLU, max, linear -> score."""

from __future__ import annotations

import torch
import torch.nn as nn

from vidquant.models.uvq.config import AggregationConfig


class AggregationNet(nn.Module):
    """Maps content + distortion features to a 1..5 quality score per frame (SPEC.md 5)."""

    example_input_shapes = ((1, 8, 8, 128), (1, 24, 24, 128))  # official shapes (export, bench)

    def __init__(self, config: AggregationConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or AggregationConfig()
        channels = cfg.content_channels + cfg.distortion_channels
        self.pool = nn.AdaptiveAvgPool2d(cfg.pooled)
        # Registration order gives the official state_dict order: conv1, linear1, ln1.
        self.conv1 = nn.Conv2d(channels, channels, 1)
        self.linear1 = nn.Linear(channels, 1)
        self.ln1 = nn.LayerNorm([channels, cfg.pooled, cfg.pooled], eps=cfg.ln_eps)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(cfg.pooled, stride=cfg.pooled)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward_features(self, content: torch.Tensor, distortion: torch.Tensor) -> torch.Tensor:
        """Channel-last content (N, h, w, C) and distortion (N, H, W, C) -> hidden (N, 256)."""
        pooled = torch.cat(
            [self.pool(content.permute(0, 3, 1, 2)), self.pool(distortion.permute(0, 3, 1, 2))], dim=1
        )
        hidden = self.maxpool(self.relu(self.ln1(self.conv1(pooled))))
        return torch.flatten(self.dropout(hidden), 1)

    def forward_head(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden (N, 256) -> score (N, 1) = 2 tanh(linear) + 3, in (1, 5)."""
        return 2.0 * torch.tanh(self.linear1(hidden)) + 3.0

    def forward(self, content: torch.Tensor, distortion: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(content, distortion))
