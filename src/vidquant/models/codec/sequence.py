"""Sequence control (SPEC 4 and 8): frame types, qp shifts, reset interval, the DPB,
padding/cropping, and one frame-coding routine per frame type shared by encoder and decoder.

The encoder and decoder differ only in their ``LatentSide``: the encoder analyses the
picture and quantises, the decoder reads z and the y steps from a payload. Everything else
(networks, DPB updates, resets) runs through the same code, so reconstructions agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from vidquant.metrics.psnr import psnr_from_mse, yuv_psnr

from .config import QP_SHIFT, QP_SHIFT_INDEX
from .entropy import FrameReader, encode_frame, z_probabilities
from .image_model import DMCI
from .layers import BitEstimator, pad_to_multiple
from .prior import QuantiseSteps, ReadSteps, StepCoder
from .trace import Trace, record
from .video_model import DMC

PICTURE_MULTIPLE = 16


@dataclass(frozen=True)
class FramePlan:
    """What the sequence controller decided for one frame (also written in the bitstream)."""

    index: int
    kind: str  # "I" or "P"
    qp: int  # shifted for P-frames
    use_ada_i: bool = False


def plan_frame(index: int, qp_i: int, qp_p: int, intra_period: int, reset_interval: int) -> FramePlan:
    """Frame type, shifted qp and reset flag of frame ``index`` (SPEC 8.1-8.3)."""
    if index == 0 or (intra_period > 0 and index % intra_period == 0):
        return FramePlan(index, "I", qp_i)
    qp = qp_p + QP_SHIFT[QP_SHIFT_INDEX[index % 8]]
    reset = reset_interval > 0 and index % reset_interval == 1
    return FramePlan(index, "P", qp, reset)


# --------------------------------------------------------------------------- pictures


def yuv420_to_tensor(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> torch.Tensor:
    """8-bit planes -> [1, 3, h, w] float in [0, 1] with nearest 2x chroma upsampling."""
    luma = torch.from_numpy(np.array(y, dtype=np.float32)).unsqueeze(0)
    chroma = torch.from_numpy(np.stack((u, v)).astype(np.float32))
    chroma = chroma.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)[:, : y.shape[0], : y.shape[1]]
    return (torch.cat((luma, chroma), dim=0) / 255.0).unsqueeze(0)


def crop_to_tensor(planes: tuple[np.ndarray, np.ndarray, np.ndarray], top: int, left: int,
                   height: int, width: int) -> torch.Tensor:
    """[3, height, width] of a window of I420 planes (even offsets and sizes keep chroma aligned)."""
    y, u, v = planes
    rows, cols = slice(top // 2, (top + height) // 2), slice(left // 2, (left + width) // 2)
    return yuv420_to_tensor(y[top : top + height, left : left + width], u[rows, cols], v[rows, cols])[0]


def pad_picture(x: torch.Tensor) -> torch.Tensor:
    """Edge-replicate right/bottom to a multiple of 16."""
    return pad_to_multiple(x, PICTURE_MULTIPLE)


def tensor_to_yuv420(x: torch.Tensor, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cropped reconstruction -> 8-bit I420 planes (chroma by 2x2 average pooling)."""
    x = x[:, :, :height, :width].clamp(0.0, 1.0)
    chroma = F.avg_pool2d(x[:, 1:3], 2)
    to8 = lambda t: (t * 255.0).round().clamp(0, 255).to(torch.uint8).numpy()  # noqa: E731
    return to8(x[0, 0]), to8(chroma[0, 0]), to8(chroma[0, 1])


def latent_size(height: int, width: int) -> tuple[int, int]:
    return math.ceil(height / 16), math.ceil(width / 16)


def hyper_shape(channels: int, height: int, width: int) -> tuple[int, int, int, int]:
    return (1, channels, math.ceil(height / 64), math.ceil(width / 64))


# --------------------------------------------------------------------------- encoder / decoder sides


Analyse = Callable[[], tuple[torch.Tensor, torch.Tensor]]  # () -> (y, z_hat), encoder only
Scale = Callable[[torch.Tensor], torch.Tensor]  # y -> scaled y (per-model quant-step map)
ZShape = tuple[int, int, int, int]


class LatentSide(Protocol):
    """Where z_hat and the y symbols come from: the picture (encoder) or a payload (decoder)."""

    def hyper(self, analyse: Analyse, z_probs: np.ndarray, z_shape: ZShape) -> torch.Tensor: ...

    def steps(self, scale: Scale, groups: int) -> StepCoder: ...


@dataclass
class EncoderSide:
    """Analyses the picture and quantises; afterwards ``payload()`` entropy-codes the frame."""

    thres: float | None
    trace: Trace = None
    y: torch.Tensor | None = None
    z_hat: torch.Tensor | None = None
    z_probs: np.ndarray | None = None
    coder: QuantiseSteps | None = None

    def hyper(self, analyse: Analyse, z_probs: np.ndarray, z_shape: ZShape) -> torch.Tensor:
        self.y, self.z_hat = analyse()
        self.z_probs = z_probs
        return self.z_hat

    def steps(self, scale: Scale, groups: int) -> StepCoder:
        y_scaled = record(self.trace, "y_scaled", scale(self.y))
        self.coder = QuantiseSteps(y_scaled, groups, self.thres)
        return self.coder

    def written(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(r.y_q_w, r.s_w) for r in self.coder.results]

    def payload(self) -> bytes:
        return encode_frame(self.z_hat, self.z_probs, self.written(), self.thres)


@dataclass
class DecoderSide:
    """Reads z and the y steps of one payload."""

    reader: FrameReader

    def hyper(self, analyse: Analyse, z_probs: np.ndarray, z_shape: ZShape) -> torch.Tensor:
        return self.reader.read_z(z_probs, z_shape)

    def steps(self, scale: Scale, groups: int) -> StepCoder:
        return ReadSteps(self.reader, groups)


# --------------------------------------------------------------------------- frame coding


@dataclass
class DecodedPictureBuffer:
    """One-entry DPB: the last reconstruction, and the last P-frame feature with its qp."""

    picture: torch.Tensor | None = None
    feature: torch.Tensor | None = None
    last_qp: int | None = None


def _z_probs(estimator: BitEstimator, row: int) -> np.ndarray:
    return z_probabilities(estimator, row, estimator.f1.h.shape[1])


@dataclass
class FrameCoder:
    """Codes frames of one sequence with a DMCI/DMC pair, keeping the DPB between frames."""

    image: DMCI
    video: DMC
    dpb: DecodedPictureBuffer = field(default_factory=DecodedPictureBuffer)

    @torch.no_grad()
    def code(self, plan: FramePlan, side: LatentSide, x: torch.Tensor | None, size: tuple[int, int],
             trace: Trace = None) -> torch.Tensor:
        """Code one padded frame (x is None on the decoder side); returns the padded x_hat."""
        if plan.kind == "I":
            return self._intra(plan.qp, side, x, size, trace)
        return self._inter(plan, side, x, size, trace)

    def _intra(self, qp: int, side: LatentSide, x: torch.Tensor | None, size: tuple[int, int], trace: Trace):
        model = self.image
        z_shape = hyper_shape(model.cfg.hyper, *size)
        z_hat = side.hyper(lambda: model.analyse(x, qp, trace), _z_probs(model.bit_estimator_z, qp), z_shape)
        params = model.common_params(z_hat, latent_size(*size), trace)
        q_enc, _ = model.step_maps(params, trace)
        coder = side.steps(lambda y: y * q_enc, model.groups)
        x_hat = model.synthesise(model.spatial_prior(params, coder, trace), qp, trace)
        self.dpb = DecodedPictureBuffer(picture=x_hat)
        return x_hat

    def _reference(self, plan: FramePlan, trace: Trace) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """DPB contents for this frame; on a reset the picture is regenerated from the feature."""
        dpb = self.dpb
        if plan.use_ada_i and dpb.feature is not None:
            return self.video.regenerate_picture(dpb.feature, dpb.last_qp, trace), None
        return dpb.picture, dpb.feature

    def _inter(self, plan: FramePlan, side: LatentSide, x: torch.Tensor | None, size: tuple[int, int], trace: Trace):
        model, qp = self.video, plan.qp
        picture, feature = self._reference(plan, trace)
        ctx, ctx_t = model.context(model.reference_feature(picture, feature, trace), qp, trace)
        z_shape = hyper_shape(model.cfg.hyper, *size)
        z_hat = side.hyper(lambda: model.analyse(x, ctx, qp, trace), _z_probs(model.bit_estimator_z, qp), z_shape)
        params = model.common_params(z_hat, ctx_t, latent_size(*size), trace)
        q_map = model.step_map(params, trace)
        coder = side.steps(lambda y: y * torch.reciprocal(q_map), model.groups)
        feature, x_hat = model.synthesise(model.spatial_prior(params, coder, trace), ctx, qp, trace)
        self.dpb = DecodedPictureBuffer(picture=x_hat, feature=feature, last_qp=qp)
        return x_hat


def psnr_yuv420(x_crop: torch.Tensor, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> list[float]:
    """[combined, Y, U, V] PSNR of a cropped [1, 3, h, w] reconstruction (SPEC 9)."""
    x_crop = x_crop.float()  # pooling and scaling in float32, the error sums in float64
    chroma = F.avg_pool2d(x_crop[:, 1:3], 2)
    planes = (x_crop[0, 0], chroma[0, 0], chroma[0, 1])
    values = []
    for ours, ref in zip(planes, (y, u, v)):
        ours = (ours * 255.0).clamp(0.0, 255.0).double()
        mse = float(((ours - torch.from_numpy(ref.astype(np.float64))) ** 2).mean())
        values.append(psnr_from_mse(mse, 255.0))
    return [yuv_psnr(*values), *values]
