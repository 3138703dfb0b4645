"""UVQ 1.5 architecture, pipeline settings and checkpoint files as data (SPEC.md sections 2-7)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class MBConvSpec:
    """One MBConv block of the EfficientNet-B0-like trunk (SPEC.md 2.6)."""

    c_in: int
    expand: int
    c_out: int
    kernel: int
    stride: int

    @property
    def hidden(self) -> int:
        return self.c_in * self.expand

    @property
    def squeeze(self) -> int:
        return max(1, self.c_in // 4)

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.c_in == self.c_out


# Trunk entries 1..16 (entry 0 is the stem, entry 17 the 2x2 head).
EFFICIENTNET_B0_BLOCKS: tuple[MBConvSpec, ...] = (
    MBConvSpec(32, 1, 16, 3, 1),
    MBConvSpec(16, 6, 24, 3, 2),
    MBConvSpec(24, 6, 24, 3, 1),
    MBConvSpec(24, 6, 40, 5, 2),
    MBConvSpec(40, 6, 40, 5, 1),
    MBConvSpec(40, 6, 80, 3, 2),
    MBConvSpec(80, 6, 80, 3, 1),
    MBConvSpec(80, 6, 80, 3, 1),
    MBConvSpec(80, 6, 112, 5, 1),
    MBConvSpec(112, 6, 112, 5, 1),
    MBConvSpec(112, 6, 112, 5, 1),
    MBConvSpec(112, 6, 192, 5, 2),
    MBConvSpec(192, 6, 192, 5, 1),
    MBConvSpec(192, 6, 192, 5, 1),
    MBConvSpec(192, 6, 192, 5, 1),
    MBConvSpec(192, 6, 320, 3, 1),
)


@dataclass(frozen=True)
class TrunkConfig:
    """The shared trunk of content_net and distortion_net (BN eps 1e-3, not torchvision's 1e-5)."""

    in_channels: int = 3
    stem_channels: int = 32
    stem_kernel: int = 3
    stem_stride: int = 2
    blocks: tuple[MBConvSpec, ...] = EFFICIENTNET_B0_BLOCKS
    head_channels: int = 128
    head_kernel: int = 2
    bn_eps: float = 1e-3


@dataclass(frozen=True)
class ContentConfig:
    trunk: TrunkConfig = field(default_factory=TrunkConfig)
    resize: tuple[int, int] = (256, 256)


@dataclass(frozen=True)
class DistortionConfig:
    trunk: TrunkConfig = field(default_factory=TrunkConfig)
    grid: tuple[int, int] = (3, 3)  # patch rows, patch columns
    pool: tuple[int, int] = (5, 13)  # max-pool window (height, width), stride 1


@dataclass(frozen=True)
class AggregationConfig:
    content_channels: int = 128
    distortion_channels: int = 128
    pooled: int = 4
    ln_eps: float = 1e-3
    dropout: float = 0.2


@dataclass(frozen=True)
class SamplingConfig:
    """How frames are taken from a video (SPEC.md section 7)."""

    height: int = 1080
    width: int = 1920
    fps: int = 1  # sampled frames per second (R)
    batch_frames: int = 4  # frames per model pass (official: 24; changes results only at ~1e-6)
    min_duration_s: float = 1.0  # shorter videos are rejected (the official CLI pads them)
    max_seconds: int | None = None  # score only the first seconds (bounded-cost reports); None = all


@dataclass(frozen=True)
class CheckpointSpec:
    """One official checkpoint file; sha256 is None where the official file was not seen."""

    net: str
    filename: str
    sha256: str | None = None


CHECKPOINTS: dict[str, CheckpointSpec] = {
    "content_net": CheckpointSpec("content_net", "content_net.pth"),
    "distortion_net": CheckpointSpec("distortion_net", "distortion_net.pth"),
    "aggregation_net": CheckpointSpec(
        "aggregation_net",
        "aggregation_net.pth",
        "0f214c76adfbc3d06b48211837cfc46847ef6fe0102804d4d097ba170e769fc6",
    ),
}

NET_NAMES: tuple[str, ...] = tuple(CHECKPOINTS)

# Where `vidquant uvq score` looks for the user's copy of the official checkpoints by default.
DEFAULT_WEIGHTS_DIR = Path.home() / ".cache" / "vidquant" / "uvq1p5"
