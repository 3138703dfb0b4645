"""DCVC-RT (CVPR 2025) on the CPU: DMCI/DMC networks, real entropy coding, bitstreams.

Importing this module registers the presets ``dcvc-rt`` and ``dcvc-rt-small`` in
``vidquant.models.MODELS``, each with the decoder plans of the codec's recipes
(``workflow.quantize_decoder.codec_plans``: a quantized student is a decoder-only plan of its preset).
"""

from __future__ import annotations

import functools

from vidquant.models import register_model

from .net.checkpoints import load_checkpoint, read_checkpoint, unwrap_state_dict
from .net.config import PRESETS, CodecPreset, ImageConfig, VideoConfig, get_preset
from .net.conformance_fill import fill_model
from .net.image_model import DMCI
from .net.model import DCVCRT, build_codec, packaged_weights, require_weights
from .net.video_model import DMC

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


def _codec_plans(**_kwargs: object) -> dict:
    from .workflow.quantize_decoder import codec_plans  # here: that module imports this package

    return codec_plans()


def _register(name: str) -> None:
    register_model(name, plans=_codec_plans)(functools.partial(build_codec, name))


for _name in PRESETS:
    _register(_name)

from .net import p_frame_networks  # noqa: E402,F401  (registers <preset>-decoder)
