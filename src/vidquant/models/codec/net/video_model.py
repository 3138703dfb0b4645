"""DMC, the inter (video) model of DCVC-RT (SPEC sections 3 and 7).

The DPB lives in ``frame_coder.py``, the per-frame control flow (reset, qp shift) in
``coding/sequence.py``; this module holds the networks and the P-frame pipeline pieces, shared
by encoder and decoder.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import PIXEL_UNSHUFFLED, VideoConfig
from .layers import (
    BitEstimator,
    DepthConvBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride2,
    SubpelConv2x,
    conv1x1,
    latent_size,
    pad_to_multiple,
    qrow,
)
from .prior import VIDEO_STEP_PATTERNS, StepCoder, round_clamp, step_mask
from .rate import NoisySteps, z_bits
from .trace import Trace, record, record_step


def _blocks(cin: int, width: int, count: int) -> list[nn.Module]:
    """``count`` DepthConvBlocks of ``width``; the first adapts from ``cin``."""
    return [DepthConvBlock(cin if i == 0 else width, width) for i in range(count)]


class FeatureExtractor(nn.Module):
    def __init__(self, cfg: VideoConfig):
        super().__init__()
        first, second = cfg.extractor_blocks
        self.conv1 = nn.Sequential(*_blocks(cfg.feature, cfg.feature, first))
        self.conv2 = nn.Sequential(*_blocks(cfg.feature, cfg.feature, second))

    def forward(self, feature: torch.Tensor, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (ctx, ctx_t); ctx comes from the un-scaled intermediate."""
        base = self.conv1(feature)
        return self.conv2(base), base * q


class Encoder(nn.Module):
    def __init__(self, cfg: VideoConfig):
        super().__init__()
        self.conv1 = conv1x1(PIXEL_UNSHUFFLED, cfg.feature)
        self.conv2 = nn.Sequential(*_blocks(2 * cfg.feature, cfg.feature, cfg.encoder_blocks))
        self.conv3 = DepthConvBlock(cfg.feature, cfg.feature)
        self.down = nn.Conv2d(cfg.feature, cfg.latent, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        out = self.conv2(torch.cat((self.conv1(F.pixel_unshuffle(x, 8)), ctx), dim=1))
        return self.down(self.conv3(out) * q)


class Decoder(nn.Module):
    def __init__(self, cfg: VideoConfig):
        super().__init__()
        self.up = SubpelConv2x(cfg.latent, cfg.feature, 3, 1)
        self.conv1 = nn.Sequential(*_blocks(2 * cfg.feature, cfg.feature, cfg.decoder_blocks))
        self.conv2 = conv1x1(cfg.feature, cfg.feature)

    def forward(self, y_hat: torch.Tensor, ctx: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(torch.cat((self.up(y_hat), ctx), dim=1))) * q


class ReconGeneration(nn.Module):
    def __init__(self, cfg: VideoConfig):
        super().__init__()
        self.conv = nn.Sequential(*_blocks(cfg.feature, cfg.recon, cfg.recon_blocks))
        self.head = conv1x1(cfg.recon, PIXEL_UNSHUFFLED)

    def forward(self, feature: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.head(self.conv(feature) * q), 8).clamp(0.0, 1.0)


class _Wrapped(nn.Module):
    """A sequential body under the attribute ``conv`` (the official key prefix)."""

    def __init__(self, *layers: nn.Module):
        super().__init__()
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class DMC(nn.Module):
    """Inter codec: feature context, hyperprior with temporal prior, 2-step spatial prior."""

    groups = 2

    def __init__(self, cfg: VideoConfig | None = None):
        super().__init__()
        cfg = cfg or VideoConfig()
        self.cfg = cfg
        lat, feat, rows = cfg.latent, cfg.feature, cfg.qp_rows
        self.q_encoder = nn.Parameter(torch.ones(rows, feat, 1, 1))
        self.q_decoder = nn.Parameter(torch.ones(rows, feat, 1, 1))
        self.q_feature = nn.Parameter(torch.ones(rows, feat, 1, 1))
        self.q_recon = nn.Parameter(torch.ones(rows, cfg.recon, 1, 1))
        self.bit_estimator_z = BitEstimator(rows, cfg.hyper)
        self.feature_adaptor_i = DepthConvBlock(PIXEL_UNSHUFFLED, feat)
        self.feature_adaptor_p = conv1x1(feat, feat)
        self.feature_extractor = FeatureExtractor(cfg)
        self.encoder = Encoder(cfg)
        self.hyper_encoder = _Wrapped(
            DepthConvBlock(lat, cfg.hyper),
            ResidualBlockWithStride2(cfg.hyper, cfg.hyper),
            ResidualBlockWithStride2(cfg.hyper, cfg.hyper),
        )
        self.hyper_decoder = _Wrapped(
            ResidualBlockUpsample(cfg.hyper, cfg.hyper),
            ResidualBlockUpsample(cfg.hyper, cfg.hyper),
            DepthConvBlock(cfg.hyper, lat),
        )
        self.temporal_prior_encoder = ResidualBlockWithStride2(feat, feat)
        self.y_prior_fusion = _Wrapped(*_blocks(lat + feat, 3 * lat, cfg.prior_blocks), conv1x1(3 * lat, 3 * lat))
        self.y_spatial_prior = _Wrapped(*_blocks(4 * lat, 3 * lat, cfg.spatial_blocks), conv1x1(3 * lat, 2 * lat))
        self.decoder = Decoder(cfg)
        self.recon_generation_net = ReconGeneration(cfg)

    @property
    def qp_rows(self) -> int:
        return self.cfg.qp_rows

    def forward(self, x: torch.Tensor, qp: torch.Tensor, picture: torch.Tensor | None, feature: torch.Tensor | None):
        """Differentiable P-frame pass (training) from a reference ``picture`` or ``feature``:
        (reconstruction, new feature, bits per sample)."""
        ctx, ctx_t = self.context(self.reference_feature(picture, feature), qp)
        y = self.encoder(x, ctx, qrow(self.q_encoder, qp))
        z_hat, bits = z_bits(self.bit_estimator_z, self.hyper_encoder(pad_to_multiple(y, 4)), qp)
        params = self.common_params(z_hat, ctx_t, latent_size(*x.shape[-2:]))
        coder = NoisySteps(y * torch.reciprocal(self.step_map(params)), self.groups)
        feature, x_hat = self.synthesise(self.spatial_prior(params, coder), ctx, qp)
        return x_hat, feature, bits + coder.bits

    def reference_feature(
        self, picture: torch.Tensor | None, feature: torch.Tensor | None, trace: Trace = None
    ) -> torch.Tensor:
        """Feature from the DPB: adapt the stored feature, else the unshuffled reference picture."""
        if feature is not None:
            return record(trace, "feature", self.feature_adaptor_p(feature))
        unshuffled = record(trace, "feature_adaptor_i_in", F.pixel_unshuffle(picture, 8))
        return record(trace, "feature", self.feature_adaptor_i(unshuffled))

    def regenerate_picture(self, feature: torch.Tensor, qp: int, trace: Trace = None) -> torch.Tensor:
        """Reset path: the reference picture rebuilt from the stored feature at the last qp."""
        q = record(trace, "q_recon_row_last", qrow(self.q_recon, qp))
        return record(trace, "regen_ref_frame", self.recon_generation_net(feature, q))

    def context(self, feature: torch.Tensor, qp: int, trace: Trace = None) -> tuple[torch.Tensor, torch.Tensor]:
        q = record(trace, "q_feature_row", qrow(self.q_feature, qp))
        ctx, ctx_t = self.feature_extractor(feature, q)
        return record(trace, "ctx", ctx), record(trace, "ctx_t", ctx_t)

    def analyse(
        self, x: torch.Tensor, ctx: torch.Tensor, qp: int, trace: Trace = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded picture and context -> (y, z_hat)."""
        q = record(trace, "q_encoder_row", qrow(self.q_encoder, qp))
        y = record(trace, "y", self.encoder(x, ctx, q))
        y_pad = record(trace, "y_pad", pad_to_multiple(y, 4))
        z = record(trace, "z", self.hyper_encoder(y_pad))
        return y, record(trace, "z_hat", round_clamp(z))

    def common_params(
        self, z_hat: torch.Tensor, ctx_t: torch.Tensor, y_size: tuple[int, int], trace: Trace = None
    ) -> torch.Tensor:
        hyper = record(trace, "hyper_decoder_out", self.hyper_decoder(z_hat))
        temporal = record(trace, "temporal_prior_out", self.temporal_prior_encoder(ctx_t))
        fusion_in = torch.cat((hyper[:, :, : y_size[0], : y_size[1]], temporal), dim=1)
        record(trace, "y_prior_fusion_in", fusion_in)
        return record(trace, "params", self.y_prior_fusion(fusion_in))

    def step_map(self, params: torch.Tensor, trace: Trace = None) -> torch.Tensor:
        """Per-channel quant-step map, clamped below at 0.5."""
        return record(trace, "q_dec_map", params[:, : self.cfg.latent].clamp_min(0.5))

    def spatial_prior(self, params: torch.Tensor, coder: StepCoder, trace: Trace = None) -> torch.Tensor:
        """Two-step checkerboard prior; returns y_hat (sum of steps times the q map)."""
        lat = self.cfg.latent
        q_map = self.step_map(params)
        height, width = params.shape[-2:]
        scales, means = params[:, lat : 2 * lat], params[:, 2 * lat :]
        first = None
        for step, patterns in enumerate(VIDEO_STEP_PATTERNS):
            if step > 0:
                prior_in = record(trace, "step1.spatial_prior_in", torch.cat((first, params), dim=1))
                prior = record(trace, "step1.spatial_prior_out", self.y_spatial_prior(prior_in))
                scales, means = prior.chunk(2, dim=1)
            result = coder.code(step, scales, means, step_mask(patterns, lat, height, width, scales.device))
            record_step(trace, step, scales, means, result)
            first = result.y_hat if first is None else first + result.y_hat
        return record(trace, "y_hat", first * q_map)

    def synthesise(
        self, y_hat: torch.Tensor, ctx: torch.Tensor, qp: int, trace: Trace = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent and context -> (reference feature, clamped padded reconstruction)."""
        q_dec = record(trace, "q_decoder_row", qrow(self.q_decoder, qp))
        feature = record(trace, "decoder_out", self.decoder(y_hat, ctx, q_dec))
        q_rec = record(trace, "q_recon_row", qrow(self.q_recon, qp))
        return feature, record(trace, "x_hat", self.recon_generation_net(feature, q_rec))
