"""Entropy models and real entropy coding (SPEC sections 5.3-5.5 and 9).

y symbols use the discretised zero-mean Gaussian of the table scale chosen by each element's
written scale; z symbols use the factorized CDF of their (qp row, channel). Both are coded
with ``constriction``'s range coder, in the stream order of SPEC 5.5. The coding itself is the
torch-free ``vidquant.deploy.entropy`` (shared with the deployed decoder); this module adds the
torch tensors, the CDF tables of the conformance pack and the rate estimates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import erfc

from vidquant.deploy import entropy
from vidquant.deploy.entropy import (
    PROB_FLOOR,
    SCALE_MAX,
    SCALE_MIN,
    SYMBOL_MAX,
    SYMBOL_MIN,
    PayloadReader,
)

from .layers import BitEstimator

CDF_PRECISION = 16
_SYMBOLS = np.arange(SYMBOL_MIN, SYMBOL_MAX + 1)


def scale_table() -> torch.Tensor:
    """The 128 log-uniform Gaussian scales (float32; ``vidquant.deploy.entropy.scale_table``)."""
    return torch.from_numpy(entropy.scale_table())


def scale_index(scales: torch.Tensor) -> torch.Tensor:
    """Table index (uint8) of each scale (``vidquant.deploy.entropy.scale_index``)."""
    return torch.from_numpy(entropy.scale_index(scales.detach().numpy()))


def coded_positions(s_w: torch.Tensor, thres: float | None) -> torch.Tensor:
    """Boolean mask of written elements: scale (clamped to the table) above the threshold."""
    return torch.from_numpy(entropy.coded_positions(s_w.numpy(), thres))


# --------------------------------------------------------------------------- CDF tables (5.4)


def quantise_pmf(pmf: np.ndarray, precision: int = CDF_PRECISION) -> np.ndarray:
    """Integer CDF of a PMF (tail included): round, rescale, cumulate, then give empty bins one unit."""
    total_range = 1 << precision
    freqs = np.floor(pmf.astype(np.float64) * total_range + 0.5).astype(np.int64)
    freqs = (total_range * freqs) // int(freqs.sum())
    cdf = np.concatenate(([0], np.cumsum(freqs)))
    cdf[-1] = total_range
    for i in range(len(cdf) - 1):
        if cdf[i] != cdf[i + 1]:
            continue
        widths = np.diff(cdf)
        candidates = np.where(widths > 1)[0]
        steal = int(candidates[np.argmin(widths[candidates])])
        if steal < i:
            cdf[steal + 1 : i + 1] -= 1
        else:
            cdf[i + 1 : steal + 1] += 1
    return cdf


def _normal_cdf(value: float, sigma: np.float32) -> np.float32:
    """Gaussian CDF with the official table builder's float32 steps and a correctly rounded erf
    (torch's float32 erf differs by an ulp between CPUs, which moves a table entry)."""
    f32 = np.float32
    scaled = f32(value) * (f32(1) / sigma) / f32(math.sqrt(2))
    return f32(0.5) * (f32(1) + f32(math.erf(float(scaled))))


def gaussian_cdf_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cdf [128, 19], lengths [128], offsets [128]) int32 tables of the official coder."""
    rows, lengths, offsets = [], [], []
    for sigma in scale_table().numpy():
        half = next((c for c in range(2, 9) if _normal_cdf(c, sigma) > 0.9999), 8)
        pmf = [_normal_cdf(v + 0.5, sigma) - _normal_cdf(v - 0.5, sigma) for v in range(-half, half + 1)]
        tail = np.float32(2) * _normal_cdf(-half - 0.5, sigma)
        rows.append(quantise_pmf(np.array(pmf + [tail], dtype=np.float32)))
        lengths.append(2 * half + 3)
        offsets.append(-half)
    table = np.zeros((len(rows), max(lengths)), dtype=np.int32)
    for r, row in enumerate(rows):
        table[r, : len(row)] = row
    return table, np.array(lengths, dtype=np.int32), np.array(offsets, dtype=np.int32)


# --------------------------------------------------------------------------- rate estimates (9)


def gaussian_bits(symbols: np.ndarray, scales: np.ndarray) -> float:
    """Estimated bits of y symbols under N(0, clamp(scale)) discretised, in float64."""
    sigma = np.clip(scales.astype(np.float64), SCALE_MIN, SCALE_MAX)
    mag = np.abs(symbols.astype(np.float64))
    upper = 0.5 * erfc((mag - 0.5) / (sigma * math.sqrt(2.0)))
    lower = 0.5 * erfc((mag + 0.5) / (sigma * math.sqrt(2.0)))
    return float(-np.log2(np.maximum(upper - lower, PROB_FLOOR)).sum())


def likelihood_bits(likelihood: np.ndarray) -> float:
    """Estimated bits from per-element likelihoods (z), floored as in the pack."""
    return float(-np.log2(np.maximum(likelihood.astype(np.float64), PROB_FLOOR)).sum())


def steps_bits(steps: list[tuple[torch.Tensor, torch.Tensor]], thres: float | None) -> float:
    """Estimated bits of all written y elements of a frame."""
    total = 0.0
    for y_q_w, s_w in steps:
        keep = coded_positions(s_w, thres)
        total += gaussian_bits(y_q_w[keep].numpy(), s_w[keep].numpy())
    return total


# --------------------------------------------------------------------------- constriction coding


def z_probabilities(estimator: BitEstimator, row: int, channels: int) -> np.ndarray:
    """PMF over the int8 range per z channel at qp row ``row``: [channels, 256] float64."""
    grid = torch.from_numpy(_SYMBOLS.astype(np.float32)).view(1, 1, -1, 1)
    with torch.no_grad():
        pmf = estimator.likelihood(grid.expand(1, channels, -1, 1), row)
    return pmf.reshape(channels, -1).double().numpy()


def encode_frame(
    z_hat: torch.Tensor, z_probs: np.ndarray, steps: list[tuple[torch.Tensor, torch.Tensor]], thres: float | None
) -> bytes:
    """One frame's payload: z (channel-major, raster), then each step's written y elements."""
    return entropy.encode_payload(z_hat.numpy(), z_probs, [(y.numpy(), s.numpy()) for y, s in steps], thres)


@dataclass
class FrameReader:
    """Decoder of one payload: z first, then the steps in order (a ``SymbolSource``)."""

    payload: bytes
    thres: float | None

    def __post_init__(self) -> None:
        self._reader = PayloadReader(self.payload, self.thres)

    def read_z(self, z_probs: np.ndarray, shape: tuple[int, int, int, int]) -> torch.Tensor:
        return torch.from_numpy(self._reader.read_z(z_probs, shape))

    def read_step(self, step: int, s_w: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self._reader.read_step(s_w.numpy()))

    def exhausted(self) -> bool:
        return self._reader.exhausted()
