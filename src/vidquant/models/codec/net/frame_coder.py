"""One frame coded by a DMCI/DMC pair (SPEC 4): the coding routine shared by encoder and decoder.

The encoder and decoder differ only in their ``LatentSide``: the encoder analyses the
picture and quantises, the decoder reads z and the y steps from a payload. Everything else
(networks, DPB updates, resets) runs through the same code, so reconstructions agree.
``FrameCoder.compress`` / ``decompress`` code one padded frame to / from its payload.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np
import torch

from .entropy_models import FrameReader, encode_frame, z_probabilities
from .image_model import DMCI
from .layers import BitEstimator, hyper_shape, latent_size
from .prior import QuantiseSteps, ReadSteps, StepCoder
from .trace import Trace, record
from .video_model import DMC


@dataclass(frozen=True)
class FramePlan:
    """What the sequence controller decided for one frame (also written in the bitstream)."""

    index: int
    kind: str  # "I" or "P"
    qp: int  # shifted for P-frames
    use_ada_i: bool = False


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


@dataclass
class DecodedPictureBuffer:
    """One-entry DPB: the last reconstruction, and the last P-frame feature with its qp."""

    picture: torch.Tensor | None = None
    feature: torch.Tensor | None = None
    last_qp: int | None = None


_Z_TABLES: "weakref.WeakKeyDictionary[BitEstimator, dict]" = weakref.WeakKeyDictionary()


def z_table(estimator: BitEstimator, row: int) -> np.ndarray:
    """The z PMF table of qp row ``row``, computed once per estimator and row while its
    parameters are unchanged (their version counters): it was recomputed at every frame."""
    key = tuple((p.data_ptr(), p._version) for p in estimator.parameters())
    cache = _Z_TABLES.get(estimator)
    if cache is None or cache["key"] != key:
        cache = _Z_TABLES[estimator] = {"key": key}
    if row not in cache:
        cache[row] = z_probabilities(estimator, row, estimator.f1.h.shape[1])
    return cache[row]


@dataclass
class FrameCoder:
    """Codes frames of one sequence with a DMCI/DMC pair, keeping the DPB between frames."""

    image: DMCI
    video: DMC
    dpb: DecodedPictureBuffer = field(default_factory=DecodedPictureBuffer)

    def compress(self, plan: FramePlan, x: torch.Tensor, thres: float | None) -> tuple[bytes, torch.Tensor, EncoderSide]:
        """Encoder: one padded frame -> (payload, padded x_hat, the side that holds its symbols)."""
        side = EncoderSide(thres)
        x_hat = self.code(plan, side, x, tuple(x.shape[-2:]))
        return side.payload(), x_hat, side

    def decompress(self, plan: FramePlan, reader: "FrameReader", size: tuple[int, int]) -> torch.Tensor:
        """Decoder: the padded x_hat of one frame from its payload's reader (any ``read_z`` /
        ``read_step`` source, e.g. ``FrameReader(payload, thres)``)."""
        return self.code(plan, DecoderSide(reader), None, size)

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
        z_hat = side.hyper(lambda: model.analyse(x, qp, trace), z_table(model.bit_estimator_z, qp), z_shape)
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
        z_hat = side.hyper(lambda: model.analyse(x, ctx, qp, trace), z_table(model.bit_estimator_z, qp), z_shape)
        params = model.common_params(z_hat, ctx_t, latent_size(*size), trace)
        q_map = model.step_map(params, trace)
        coder = side.steps(lambda y: y * torch.reciprocal(q_map), model.groups)
        feature, x_hat = model.synthesise(model.spatial_prior(params, coder, trace), ctx, qp, trace)
        self.dpb = DecodedPictureBuffer(picture=x_hat, feature=feature, last_qp=qp)
        return x_hat
