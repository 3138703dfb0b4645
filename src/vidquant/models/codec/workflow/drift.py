"""Drift of a quantized decoder over a P-frame chain: closed loop (one model on both sides)
against open loop (float encoder, quantized decoder), both measured against the float codec."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from vidquant.deploy.bitstream import Bitstream

from ..coding.pipeline import (
    EncodeSettings,
    decode_open_loop,
    decode_video,
    differing_samples,
    encode_video,
)
from ..coding.sequence import psnr_yuv420
from ..coding.yuvfile import Planes
from ..net.model import DCVCRT


@dataclass
class DriftResult:
    """Per-frame YUV PSNR of the float codec, the closed-loop and the open-loop quantized decoder."""

    frame_type: list[str]
    psnr_float: list[float]
    psnr_closed: list[float]
    psnr_open: list[float]
    closed_mismatch_samples: int  # quantized decoder vs quantized encoder: 0 when drift-free
    open_mismatch_samples: int  # quantized decoder vs the float encoder's reconstruction
    bytes_float: list[int]  # payload bytes per frame (open loop decodes the float stream)
    bytes_closed: list[int]

    def gaps(self, psnrs: list[float]) -> list[float]:
        """PSNR change against the float codec per frame (negative: the quantized one is worse)."""
        return [q - f for q, f in zip(psnrs, self.psnr_float)]

    def drift(self, psnrs: list[float]) -> float:
        """Gap at the last P-frame minus the gap at the first P-frame (0: no accumulation)."""
        gaps = [g for g, kind in zip(self.gaps(psnrs), self.frame_type) if kind == "P"]
        return gaps[-1] - gaps[0]

    def summary(self) -> dict:
        p_frames = self.frame_type.count("P")
        return {
            "p_frames": p_frames,
            "closed_loop_bytes_change_percent": 100.0 * (sum(self.bytes_closed) / sum(self.bytes_float) - 1.0),
            "closed_loop": {"gap_first_p": self._first_last(self.psnr_closed)[0],
                            "gap_last_p": self._first_last(self.psnr_closed)[1],
                            "drift_db": self.drift(self.psnr_closed),
                            "decoder_mismatch_samples": self.closed_mismatch_samples},
            "open_loop": {"gap_first_p": self._first_last(self.psnr_open)[0],
                          "gap_last_p": self._first_last(self.psnr_open)[1],
                          "drift_db": self.drift(self.psnr_open),
                          "samples_differing_from_encoder": self.open_mismatch_samples},
        }

    def _first_last(self, psnrs: list[float]) -> tuple[float, float]:
        gaps = [g for g, kind in zip(self.gaps(psnrs), self.frame_type) if kind == "P"]
        return gaps[0], gaps[-1]

    def to_dict(self) -> dict:
        return {**asdict(self), "summary": self.summary()}


def _psnrs(recons: list, originals: list[Planes]) -> list[float]:
    height, width = originals[0][0].shape
    return [psnr_yuv420(x[:, :, :height, :width], *planes)[0] for x, planes in zip(recons, originals)]


def measure_drift(float_codec: DCVCRT, quant_codec: DCVCRT, frames: list[Planes], settings: EncodeSettings) -> DriftResult:
    """Code ``frames`` three ways from real bitstreams and compare per-frame PSNR."""
    reference = encode_video(float_codec, frames, settings)
    float_stream = Bitstream.from_bytes(reference.bitstream.to_bytes())
    float_decoded = list(decode_video(float_codec, float_stream))
    closed = encode_video(quant_codec, frames, settings)
    closed_decoded = list(decode_video(quant_codec, Bitstream.from_bytes(closed.bitstream.to_bytes())))
    open_decoded = list(decode_open_loop(float_codec, quant_codec, float_stream))
    return DriftResult(
        frame_type=[f.kind for f in reference.bitstream.frames],
        psnr_float=_psnrs(float_decoded, frames),
        psnr_closed=_psnrs(closed_decoded, frames),
        psnr_open=_psnrs(open_decoded, frames),
        closed_mismatch_samples=differing_samples(closed.recons, closed_decoded),
        open_mismatch_samples=differing_samples(reference.recons, open_decoded),
        bytes_float=[stat.bytes for stat in reference.stats],
        bytes_closed=[stat.bytes for stat in closed.stats],
    )
