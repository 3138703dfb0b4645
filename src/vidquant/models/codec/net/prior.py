"""Spatial-prior machinery shared by DMCI (4 steps) and DMC (2 steps): masks, the masked
quantiser, packing of written tensors, and the step coders used by encoder and decoder.

One ``StepCoder`` per direction keeps the network loop identical on both sides, which is
what makes the decoder compute bit-identical scales (SPEC 6.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch

from vidquant.deploy import steps
from vidquant.deploy.entropy import SYMBOL_MAX, SYMBOL_MIN
from vidquant.deploy.steps import IMAGE_STEP_PATTERNS, VIDEO_STEP_PATTERNS  # noqa: F401 (the models import them here)


def step_mask(patterns: tuple[int, ...], channels: int, height: int, width: int, device=None) -> torch.Tensor:
    """0/1 mask [1, channels, H, W]: channel group g uses position pattern ``patterns[g]``
    (``vidquant.deploy.steps.step_mask``)."""
    mask = torch.from_numpy(steps.step_mask(patterns, channels, height, width))
    return mask if device is None else mask.to(device)


def pack(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Sum the channel groups: at each position one group is active, so this packs densely."""
    parts = x.chunk(groups, dim=1)
    out = parts[0]
    for part in parts[1:]:
        out = out + part
    return out


def unpack(x: torch.Tensor, groups: int, mask: torch.Tensor) -> torch.Tensor:
    """Inverse of ``pack`` on the masked positions."""
    return x.repeat(1, groups, 1, 1) * mask


def round_clamp(x: torch.Tensor) -> torch.Tensor:
    """Round half to even and clamp to the int8 symbol range."""
    return torch.round(x).clamp(SYMBOL_MIN, SYMBOL_MAX)


@dataclass
class StepResult:
    """One spatial-prior step: symbols, reconstructed part, masked scales, written tensors."""

    y_q: torch.Tensor
    y_hat: torch.Tensor
    s_hat: torch.Tensor
    y_q_w: torch.Tensor
    s_w: torch.Tensor
    y_res: torch.Tensor | None = None


def masked_quantise(
    y: torch.Tensor, scales: torch.Tensor, means: torch.Tensor, mask: torch.Tensor, thres: float | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """SPEC 5.2: returns (residual, symbols, symbols + means, masked scales)."""
    s_hat = scales * mask
    m_hat = means * mask
    y_res = (y - m_hat) * mask
    y_q = torch.round(y_res)
    if thres is not None:
        y_q = y_q * (s_hat > thres)
    y_q = y_q.clamp(SYMBOL_MIN, SYMBOL_MAX)
    return y_res, y_q, y_q + m_hat, s_hat


class StepCoder(Protocol):
    """Produces the symbols of one step: from the latent (encoder) or the stream (decoder)."""

    def code(self, step: int, scales: torch.Tensor, means: torch.Tensor, mask: torch.Tensor) -> StepResult: ...


@dataclass
class QuantiseSteps:
    """Encoder side: quantises the scaled latent and records what must be written."""

    y_scaled: torch.Tensor
    groups: int
    thres: float | None
    results: list[StepResult] = field(default_factory=list)

    def code(self, step: int, scales: torch.Tensor, means: torch.Tensor, mask: torch.Tensor) -> StepResult:
        y_res, y_q, y_hat, s_hat = masked_quantise(self.y_scaled, scales, means, mask, self.thres)
        result = StepResult(y_q, y_hat, s_hat, pack(y_q, self.groups), pack(s_hat, self.groups), y_res)
        self.results.append(result)
        return result


class SymbolSource(Protocol):
    def read_step(self, step: int, s_w: torch.Tensor) -> torch.Tensor: ...


@dataclass
class ReadSteps:
    """Decoder side: reads each step's written symbols given the scales it recomputed."""

    source: SymbolSource
    groups: int
    results: list[StepResult] = field(default_factory=list)

    def code(self, step: int, scales: torch.Tensor, means: torch.Tensor, mask: torch.Tensor) -> StepResult:
        s_hat = scales * mask
        s_w = pack(s_hat, self.groups)
        y_q_w = self.source.read_step(step, s_w)
        y_q = unpack(y_q_w, self.groups, mask)
        result = StepResult(y_q, y_q + means * mask, s_hat, y_q_w, s_w)
        self.results.append(result)
        return result
