"""DMCI, the intra (image) model of DCVC-RT (SPEC section 2 and 6).

Attribute names and registration order reproduce the official state dict. ``code`` runs the
I-frame pipeline with a step coder: ``QuantiseSteps`` on the encoder side, ``ReadSteps`` on
the decoder side, so both run the very same network calls.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import PIXEL_UNSHUFFLED, ImageConfig
from .layers import (
    BitEstimator,
    DepthConvBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride2,
    conv1x1,
    latent_size,
    pad_to_multiple,
    qrow,
)
from .prior import IMAGE_STEP_PATTERNS, StepCoder, round_clamp, step_mask
from .rate import NoisySteps, z_bits
from .trace import Trace, record, record_step


class IntraEncoder(nn.Module):
    def __init__(self, cfg: ImageConfig):
        super().__init__()
        self.enc_1 = DepthConvBlock(PIXEL_UNSHUFFLED, cfg.width)
        blocks = [DepthConvBlock(cfg.width, cfg.width) for _ in range(cfg.enc_blocks)]
        self.enc_2 = nn.Sequential(*blocks, nn.Conv2d(cfg.width, cfg.latent, 3, stride=2, padding=1))

    def forward(self, x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return self.enc_2(self.enc_1(F.pixel_unshuffle(x, 8)) * q)


class IntraDecoder(nn.Module):
    def __init__(self, cfg: ImageConfig):
        super().__init__()
        blocks = [DepthConvBlock(cfg.width, cfg.width) for _ in range(cfg.dec_blocks)]
        self.dec_1 = nn.Sequential(ResidualBlockUpsample(cfg.latent, cfg.width), *blocks)
        self.dec_2 = DepthConvBlock(cfg.width, PIXEL_UNSHUFFLED)

    def forward(self, y_hat: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.dec_2(self.dec_1(y_hat) * q), 8)


def _dcb_stack(cin: int, width: int, count: int, last: nn.Module) -> nn.Sequential:
    """``count`` DepthConvBlocks (the first adapts ``cin``), then ``last``."""
    blocks = [DepthConvBlock(cin if i == 0 else width, width) for i in range(count)]
    return nn.Sequential(*blocks, last)


def quant_step_map(logit: torch.Tensor) -> torch.Tensor:
    """Single-channel quant-step map in (0.5, 2) from a logit channel."""
    return 0.5 + 1.5 * torch.sigmoid(logit)


class DMCI(nn.Module):
    """Intra codec: analysis/synthesis, hyperprior and a 4-step spatial prior."""

    groups = 4

    def __init__(self, cfg: ImageConfig | None = None):
        super().__init__()
        cfg = cfg or ImageConfig()
        self.cfg = cfg
        two = 2 * cfg.latent
        self.q_scale_enc = nn.Parameter(torch.ones(cfg.qp_rows, cfg.width, 1, 1))
        self.q_scale_dec = nn.Parameter(torch.ones(cfg.qp_rows, cfg.width, 1, 1))
        self.bit_estimator_z = BitEstimator(cfg.qp_rows, cfg.hyper)
        self.enc = IntraEncoder(cfg)
        self.hyper_enc = nn.Sequential(
            DepthConvBlock(cfg.latent, cfg.hyper),
            ResidualBlockWithStride2(cfg.hyper, cfg.hyper),
            ResidualBlockWithStride2(cfg.hyper, cfg.hyper),
        )
        self.hyper_dec = nn.Sequential(
            ResidualBlockUpsample(cfg.hyper, cfg.hyper),
            ResidualBlockUpsample(cfg.hyper, cfg.hyper),
            DepthConvBlock(cfg.hyper, cfg.latent),
        )
        self.y_prior_fusion = _dcb_stack(cfg.latent, two, cfg.prior_blocks, conv1x1(two, two + 2))
        self.y_spatial_prior_reduction = conv1x1(two + 2, cfg.latent)
        self.y_spatial_prior_adaptor_1 = DepthConvBlock(two, two, force_adaptor=True)
        self.y_spatial_prior_adaptor_2 = DepthConvBlock(two, two, force_adaptor=True)
        self.y_spatial_prior_adaptor_3 = DepthConvBlock(two, two, force_adaptor=True)
        self.y_spatial_prior = _dcb_stack(two, two, cfg.prior_blocks, conv1x1(two, two))
        self.dec = IntraDecoder(cfg)

    @property
    def qp_rows(self) -> int:
        return self.cfg.qp_rows

    def adaptors(self) -> tuple[nn.Module, ...]:
        return (self.y_spatial_prior_adaptor_1, self.y_spatial_prior_adaptor_2, self.y_spatial_prior_adaptor_3)

    def forward(self, x: torch.Tensor, qp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Differentiable I-frame pass (training): (unclamped reconstruction, bits per sample)."""
        y = self.enc(x, qrow(self.q_scale_enc, qp))
        z_hat, bits = z_bits(self.bit_estimator_z, self.hyper_enc(pad_to_multiple(y, 4)), qp)
        params = self.common_params(z_hat, latent_size(*x.shape[-2:]))
        q_enc, _ = self.step_maps(params)
        coder = NoisySteps(y * q_enc, self.groups)
        y_hat = self.spatial_prior(params, coder)
        return self.dec(y_hat, qrow(self.q_scale_dec, qp)), bits + coder.bits

    def analyse(self, x: torch.Tensor, qp: int, trace: Trace = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded picture -> (y, z_hat)."""
        q = record(trace, "q_scale_enc_row", qrow(self.q_scale_enc, qp))
        y = record(trace, "y", self.enc(x, q))
        y_pad = record(trace, "y_pad", pad_to_multiple(y, 4))
        z = record(trace, "z", self.hyper_enc(y_pad))
        return y, record(trace, "z_hat", round_clamp(z))

    def common_params(self, z_hat: torch.Tensor, y_size: tuple[int, int], trace: Trace = None) -> torch.Tensor:
        """Hyper decoder and prior fusion, cropped to the latent size."""
        hyper = record(trace, "hyper_dec_out", self.hyper_dec(z_hat))
        fused = record(trace, "y_prior_fusion_out", self.y_prior_fusion(hyper))
        return record(trace, "params", fused[:, :, : y_size[0], : y_size[1]])

    def step_maps(self, params: torch.Tensor, trace: Trace = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(q_enc map, q_dec map) from the first two parameter channels."""
        q_enc = record(trace, "q_enc_map", quant_step_map(params[:, 0:1]))
        return q_enc, record(trace, "q_dec_map", quant_step_map(params[:, 1:2]))

    def spatial_prior(self, params: torch.Tensor, coder: StepCoder, trace: Trace = None) -> torch.Tensor:
        """Four-step prior; returns the latent y_hat (running sum times the q_dec map)."""
        latent = self.cfg.latent
        q_dec = self.step_maps(params)[1]
        reduced = record(trace, "reduced_params", self.y_spatial_prior_reduction(params))
        height, width = params.shape[-2:]
        scales, means = params[:, 2 : 2 + latent], params[:, 2 + latent :]
        running = None
        for step, patterns in enumerate(IMAGE_STEP_PATTERNS):
            if step > 0:
                adaptor_in = record(trace, f"step{step}.adaptor_in", torch.cat((running, reduced), dim=1))
                adapted = record(trace, f"step{step}.adaptor_out", self.adaptors()[step - 1](adaptor_in))
                prior = record(trace, f"step{step}.spatial_prior_out", self.y_spatial_prior(adapted))
                scales, means = prior.chunk(2, dim=1)
            mask = step_mask(patterns, latent, height, width, scales.device)
            result = coder.code(step, scales, means, mask)
            record_step(trace, step, scales, means, result)
            running = result.y_hat if running is None else running + result.y_hat
            if step < len(IMAGE_STEP_PATTERNS) - 1:
                record(trace, f"step{step}.y_hat_so_far", running)
        return record(trace, "y_hat", running * q_dec)

    def synthesise(self, y_hat: torch.Tensor, qp: int, trace: Trace = None) -> torch.Tensor:
        """Latent -> clamped padded reconstruction."""
        q = record(trace, "q_scale_dec_row", qrow(self.q_scale_dec, qp))
        dec_out = record(trace, "dec_out", self.dec(y_hat, q))
        return record(trace, "x_hat", dec_out.clamp(0.0, 1.0))

