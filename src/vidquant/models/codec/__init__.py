"""DCVC-RT (CVPR 2025) on the CPU: DMCI/DMC networks, real entropy coding, bitstreams.

Importing this module registers the presets ``dcvc-rt`` and ``dcvc-rt-small`` in
``vidquant.models.MODELS``.
"""

from __future__ import annotations

from pathlib import Path

import torch.nn as nn

from vidquant.models import register_model

from .config import PRESETS, CodecPreset, ImageConfig, VideoConfig, get_preset
from .convert import load_checkpoint, read_checkpoint, unwrap_state_dict
from .fill import fill_model
from .image_model import DMCI
from .video_model import DMC

__all__ = [
    "PRESETS",
    "CodecPreset",
    "DCVCRT",
    "DMC",
    "DMCI",
    "ImageConfig",
    "VideoConfig",
    "build_codec",
    "fill_model",
    "get_preset",
    "load_checkpoint",
    "read_checkpoint",
    "unwrap_state_dict",
]


class DCVCRT(nn.Module):
    """The intra/inter model pair of one preset (``image`` = DMCI, ``video`` = DMC)."""

    def __init__(self, preset: CodecPreset):
        super().__init__()
        self.preset = preset
        self.image = DMCI(preset.image)
        self.video = DMC(preset.video)


def build_codec(
    preset: str = "dcvc-rt", checkpoint_i: str | Path | None = None, checkpoint_p: str | Path | None = None
) -> DCVCRT:
    """A model pair of ``preset`` in eval mode, optionally loaded from the two checkpoints."""
    codec = DCVCRT(get_preset(preset))
    if checkpoint_i is not None:
        load_checkpoint(codec.image, checkpoint_i)
    if checkpoint_p is not None:
        load_checkpoint(codec.video, checkpoint_p)
    return codec.eval()


def _register(name: str) -> None:
    register_model(name)(lambda **kwargs: build_codec(name, **kwargs))


for _name in PRESETS:
    _register(_name)
