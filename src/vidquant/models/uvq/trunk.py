"""The EfficientNet-B0-like trunk shared by content_net and distortion_net (SPEC.md 2.6)."""

from __future__ import annotations

import torch.nn as nn

from vidquant.models.uvq.config import TrunkConfig
from vidquant.models.uvq.layers import MBConv, SamePadConv2d, conv_unit


def build_features(config: TrunkConfig) -> nn.Sequential:
    """Stem, 16 MBConv blocks and the bias-free 2x2 head: the 18 ``features.*`` entries."""
    stem = conv_unit(
        config.in_channels, config.stem_channels, config.stem_kernel, config.stem_stride, config.bn_eps
    )
    blocks = [MBConv(spec, config.bn_eps) for spec in config.blocks]
    head = SamePadConv2d(config.blocks[-1].c_out, config.head_channels, config.head_kernel)
    return nn.Sequential(stem, *blocks, head)
