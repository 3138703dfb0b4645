"""``DCVCRT``: the intra/inter model pair of one preset, and how a pair gets its weights
(packaged, official checkpoints, or the conformance fill)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn as nn

from vidquant.errors import VidquantError

from .checkpoints import load_checkpoint
from .config import QP_SHIFT, QP_SHIFT_INDEX, CodecPreset, get_preset
from .conformance_fill import fill_model
from .image_model import DMCI
from .video_model import DMC

if TYPE_CHECKING:
    from .frame_coder import FrameCoder


class DCVCRT(nn.Module):
    """The intra/inter model pair of one preset (``image`` = DMCI, ``video`` = DMC)."""

    def __init__(self, preset: CodecPreset):
        super().__init__()
        self.preset = preset
        self.image = DMCI(preset.image)
        self.video = DMC(preset.video)

    def forward(self, frames: torch.Tensor, qp: torch.Tensor):
        """Differentiable pass over I-P-P... chains ``frames`` [B, T, 3, H, W]: the I-frame at ``qp``
        [B], the P-frames at the shifted qps of a real sequence (SPEC 8.2), each P-frame referencing
        the model's own output. Returns per frame the reconstruction (the I-frame's clamped to
        [0, 1], as it is referenced; the P-frames' unclamped), per P-frame the new reference
        feature, and per frame the estimated bits [B]."""
        picture, bits = self.image(frames[:, 0], qp)
        picture = picture.clamp(0.0, 1.0)
        pictures, features, frame_bits, feature = [picture], [], [bits], None
        for t in range(1, frames.shape[1]):
            qp_t = qp + QP_SHIFT[QP_SHIFT_INDEX[t % 8]]
            x_hat, feature, bits = self.video(frames[:, t], qp_t, picture if feature is None else None, feature)
            pictures.append(x_hat)
            features.append(feature)
            frame_bits.append(bits)
            picture = None
        return pictures, features, frame_bits

    def frame_coder(self) -> "FrameCoder":
        """A coder of one sequence (``compress`` / ``decompress`` per frame, with its DPB)."""
        from .frame_coder import FrameCoder  # here: the range coder loads only when frames are coded

        return FrameCoder(self.image, self.video)


WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"


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
