"""Entropy models and real entropy coding (SPEC sections 5.3-5.5 and 9).

y symbols use the discretised zero-mean Gaussian of the table scale chosen by each element's
written scale; z symbols use the factorized CDF of their (qp row, channel). Both are coded
with ``constriction``'s range coder, in the stream order of SPEC 5.5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import constriction
import numpy as np
import torch
from scipy.special import erfc

from .config import SCALE_LEVELS, SCALE_MAX, SCALE_MIN
from .layers import BitEstimator
from .prior import SYMBOL_MAX, SYMBOL_MIN

_LOG_MIN = math.log(SCALE_MIN)
_INV_STEP = 1.0 / ((math.log(SCALE_MAX) - _LOG_MIN) / (SCALE_LEVELS - 1))
CDF_PRECISION = 16
_SYMBOLS = np.arange(SYMBOL_MIN, SYMBOL_MAX + 1)
_PROB_FLOOR = 1e-9


def scale_table() -> torch.Tensor:
    """The 128 log-uniform Gaussian scales (float32, as the official table).

    Built from IEEE float32 steps and a correctly rounded exp rather than torch's vectorised
    linspace / exp, whose last bit differs between CPUs (AVX2 vs AVX-512 kernels): the table
    picks the coding distributions, so it must be the same on every machine."""
    start, end = np.float32(_LOG_MIN), np.float32(math.log(SCALE_MAX))
    step = (end - start) / np.float32(SCALE_LEVELS - 1)
    half = SCALE_LEVELS // 2
    # torch's linspace: from the start for the first half, back from the end for the rest, each
    # a fused multiply-add (exact in float64 here, then rounded once to float32).
    logs = [float(start) + i * float(step) if i < half else float(end) - (SCALE_LEVELS - 1 - i) * float(step)
            for i in range(SCALE_LEVELS)]
    return torch.tensor([float(np.float32(math.exp(float(np.float32(x))))) for x in logs], dtype=torch.float32)


def scale_index(scales: torch.Tensor) -> torch.Tensor:
    """Table index of each scale: floor of the log position, in the tensor dtype."""
    return ((torch.log(scales.clamp(SCALE_MIN, SCALE_MAX)) - _LOG_MIN) * _INV_STEP).to(torch.uint8)


def coded_positions(s_w: torch.Tensor, thres: float | None) -> torch.Tensor:
    """Boolean mask of written elements: scale (clamped to the table) above the threshold."""
    if thres is None:
        return torch.ones_like(s_w, dtype=torch.bool)
    return s_w.clamp(SCALE_MIN, SCALE_MAX) > thres


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
    return float(-np.log2(np.maximum(upper - lower, _PROB_FLOOR)).sum())


def likelihood_bits(likelihood: np.ndarray) -> float:
    """Estimated bits from per-element likelihoods (z), floored as in the pack."""
    return float(-np.log2(np.maximum(likelihood.astype(np.float64), _PROB_FLOOR)).sum())


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


def _z_model_args(z_probs: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    per_channel = shape[2] * shape[3]
    return np.repeat(z_probs, per_channel, axis=0)


_Z_MODEL = constriction.stream.model.Categorical(perfect=False)
_Y_MODEL = constriction.stream.model.QuantizedGaussian(SYMBOL_MIN, SYMBOL_MAX)
_TABLE = scale_table().double().numpy()


def _y_arrays(y_q_w: torch.Tensor | None, s_w: torch.Tensor, thres: float | None):
    keep = coded_positions(s_w, thres)
    sigma = _TABLE[scale_index(s_w[keep]).numpy().astype(np.int64)]
    symbols = None if y_q_w is None else y_q_w[keep].numpy().astype(np.int32)
    return keep, symbols, sigma


def encode_frame(
    z_hat: torch.Tensor, z_probs: np.ndarray, steps: list[tuple[torch.Tensor, torch.Tensor]], thres: float | None
) -> bytes:
    """One frame's payload: z (channel-major, raster), then each step's written y elements."""
    encoder = constriction.stream.queue.RangeEncoder()
    z_symbols = (z_hat.flatten().numpy().astype(np.int32) - SYMBOL_MIN).astype(np.int32)
    encoder.encode(z_symbols, _Z_MODEL, _z_model_args(z_probs, tuple(z_hat.shape)))
    for y_q_w, s_w in steps:
        _, symbols, sigma = _y_arrays(y_q_w, s_w, thres)
        if symbols.size:
            encoder.encode(symbols, _Y_MODEL, np.zeros_like(sigma), sigma)
    return encoder.get_compressed().tobytes()


@dataclass
class FrameReader:
    """Decoder of one payload: z first, then the steps in order (a ``SymbolSource``)."""

    payload: bytes
    thres: float | None

    def __post_init__(self) -> None:
        if len(self.payload) % 4:
            raise ValueError(f"payload of {len(self.payload)} bytes is not a whole number of words")
        self._decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(self.payload, dtype=np.uint32).copy())

    def read_z(self, z_probs: np.ndarray, shape: tuple[int, int, int, int]) -> torch.Tensor:
        args = _z_model_args(z_probs, shape)
        symbols = self._decoder.decode(_Z_MODEL, args).astype(np.int64) + SYMBOL_MIN
        return torch.from_numpy(symbols.astype(np.float32)).view(shape)

    def read_step(self, step: int, s_w: torch.Tensor) -> torch.Tensor:
        keep, _, sigma = _y_arrays(None, s_w, self.thres)
        out = torch.zeros_like(s_w)
        if sigma.size:
            symbols = self._decoder.decode(_Y_MODEL, np.zeros_like(sigma), sigma)
            out[keep] = torch.from_numpy(symbols.astype(np.float32))
        return out

    def exhausted(self) -> bool:
        """Whether the payload may be fully read: true after the last symbol of a valid
        payload; false when data is left (a corrupted or forged stream read as a smaller frame)."""
        return self._decoder.maybe_exhausted()


def min_z_bits(z_probs: np.ndarray, shape: tuple[int, ...]) -> float:
    """A floor on the bits of any z of ``shape`` under ``z_probs`` ([channels, 256]): every
    position of channel c costs at least -log2 of its most probable symbol's probability."""
    per_position = float(-np.log2(np.clip(z_probs.max(axis=1), _PROB_FLOOR, 1.0)).sum())
    return per_position * shape[2] * shape[3]
