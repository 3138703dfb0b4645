"""The differentiable rate of one frame (training and distillation): a Gaussian likelihood of
the noisy latent residuals, the factorized z likelihood, straight-through rounding for the
reconstruction. ``DMCI.forward`` / ``DMC.forward`` code a frame with these instead of the
entropy coder."""

from __future__ import annotations

import math

import torch

from vidquant.deploy.entropy import SCALE_MAX, SCALE_MIN
from vidquant.quant.primitives import round_ste

from .prior import StepResult, pack

LIKELIHOOD_FLOOR = 1e-9


def gaussian_likelihood(values: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    sigma = scales.clamp(SCALE_MIN, SCALE_MAX)
    mag = values.abs()
    upper = 0.5 * torch.erfc((mag - 0.5) / (sigma * math.sqrt(2.0)))
    lower = 0.5 * torch.erfc((mag + 0.5) / (sigma * math.sqrt(2.0)))
    return (upper - lower).clamp_min(LIKELIHOOD_FLOOR)


class NoisySteps:
    """Step coder for training: STE symbols for the reconstruction, noisy residual for the rate."""

    def __init__(self, y_scaled: torch.Tensor, groups: int):
        self.y_scaled, self.groups = y_scaled, groups
        self.bits = torch.zeros(y_scaled.shape[0], device=y_scaled.device)

    def code(self, step: int, scales: torch.Tensor, means: torch.Tensor, mask: torch.Tensor) -> StepResult:
        residual = (self.y_scaled - means) * mask
        noisy = residual + torch.empty_like(residual).uniform_(-0.5, 0.5)
        bits = -torch.log2(gaussian_likelihood(noisy, scales)) * mask
        self.bits = self.bits + bits.flatten(1).sum(1)
        y_q = round_ste(residual) * mask
        return StepResult(y_q, y_q + means * mask, scales * mask, pack(y_q, self.groups), pack(scales * mask, self.groups))


def z_bits(estimator, z: torch.Tensor, qp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(z_hat with STE, estimated bits per sample of the noisy z)."""
    noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5)
    bits = -torch.log2(estimator.likelihood(noisy, qp).clamp_min(LIKELIHOOD_FLOOR))
    return round_ste(z), bits.flatten(1).sum(1)
