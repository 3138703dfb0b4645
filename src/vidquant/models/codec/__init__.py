"""DCVC-RT (CVPR 2025) on the CPU: DMCI/DMC networks, real entropy coding, bitstreams.

Importing this module registers the presets ``dcvc-rt`` and ``dcvc-rt-small`` in
``vidquant.models.MODELS``, each with the decoder plans of the codec's recipes
(``quantize_decoder.codec_plans``: a quantized student is a decoder-only plan of its preset).
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch.nn as nn

from vidquant.errors import VidquantError

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
    "packaged_weights",
    "require_weights",
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


WEIGHTS_DIR = Path(__file__).with_name("weights")


def packaged_weights(preset: str) -> tuple[Path, Path] | None:
    """The shipped (image, video) safetensors of ``preset``, if the package has them."""
    paths = (WEIGHTS_DIR / f"{preset}_image.safetensors", WEIGHTS_DIR / f"{preset}_video.safetensors")
    return paths if all(p.is_file() for p in paths) else None


def build_codec(
    preset: str = "dcvc-rt",
    checkpoint_i: str | Path | None = None,
    checkpoint_p: str | Path | None = None,
    synthetic: bool = False,
) -> DCVCRT:
    """A model pair of ``preset`` in eval mode with weights from, in order: the synthetic fill
    (``synthetic``), the two checkpoints, the package; else untrained (``weights_loaded`` False)."""
    codec = DCVCRT(get_preset(preset))
    if (checkpoint_i is None) != (checkpoint_p is None):
        raise VidquantError("give both the image and the video checkpoint, or neither")
    if checkpoint_i is None and not synthetic:
        checkpoint_i, checkpoint_p = packaged_weights(preset) or (None, None)
    if synthetic:
        fill_model(codec.image)
        fill_model(codec.video)
    elif checkpoint_i is not None:
        load_checkpoint(codec.image, checkpoint_i)
        load_checkpoint(codec.video, checkpoint_p)
    codec.weights_loaded = synthetic or checkpoint_i is not None
    return codec.eval()


def require_weights(codec: DCVCRT) -> DCVCRT:
    """Refuse to code with untrained weights (they would give meaningless streams)."""
    if not getattr(codec, "weights_loaded", False):
        raise VidquantError(
            f"preset {codec.preset.name!r} has no packaged weights; pass --model_path_i/--model_path_p "
            "(the official checkpoints for dcvc-rt) or --synthetic (the conformance pack's fill)"
        )
    return codec


def _codec_plans(**_kwargs: object) -> dict:
    from .quantize_decoder import codec_plans  # here: the module imports this package

    return codec_plans()


def _register(name: str) -> None:
    register_model(name, plans=_codec_plans)(functools.partial(build_codec, name))


for _name in PRESETS:
    _register(_name)

from . import decoder_networks  # noqa: E402,F401  (registers <preset>-decoder)
