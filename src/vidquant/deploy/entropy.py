"""Entropy coding of DCVC-RT payloads in numpy (SPEC sections 5.3-5.5): the one implementation
that the PyTorch codec (``models/codec/net/entropy_models.py`` wraps it) and the deployed
bundle decoder share.

y symbols use the discretised zero-mean Gaussian of the table scale chosen by each element's
written scale; z symbols use the factorized PMF of their (qp row, channel), computed by the
caller. Both are coded with ``constriction``'s range coder, in the stream order of SPEC 5.5.
Imports no torch.
"""

from __future__ import annotations

import math

import constriction
import numpy as np

SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 16.0, 128  # the Gaussian scale table of the y symbols (SPEC 5.3)
SYMBOL_MIN, SYMBOL_MAX = -128, 127
PROB_FLOOR = 1e-9  # the smallest probability a rate estimate counts (as in the conformance pack)

_F32 = np.float32
_LOG_MIN = math.log(SCALE_MIN)
_INV_STEP = 1.0 / ((math.log(SCALE_MAX) - _LOG_MIN) / (SCALE_LEVELS - 1))


def scale_table() -> np.ndarray:
    """The 128 log-uniform Gaussian scales (float32, as the official table).

    Built from IEEE float32 steps and a correctly rounded exp rather than a vectorised
    linspace / exp, whose last bit differs between CPUs (AVX2 vs AVX-512 kernels): the table
    picks the coding distributions, so it must be the same on every machine."""
    start, end = _F32(_LOG_MIN), _F32(math.log(SCALE_MAX))
    step = (end - start) / _F32(SCALE_LEVELS - 1)
    half = SCALE_LEVELS // 2
    # torch's linspace: from the start for the first half, back from the end for the rest, each
    # a fused multiply-add (exact in float64 here, then rounded once to float32).
    logs = [float(start) + i * float(step) if i < half else float(end) - (SCALE_LEVELS - 1 - i) * float(step)
            for i in range(SCALE_LEVELS)]
    return np.array([_F32(math.exp(float(_F32(x)))) for x in logs], dtype=np.float32)


def _index_value(scales: np.ndarray) -> np.ndarray:
    """The official index formula in float32, (log(s) - log(min)) / step, with a correctly rounded log."""
    logs = np.log(scales.astype(np.float64)).astype(np.float32)
    return (logs - _F32(_LOG_MIN)) * _F32(_INV_STEP)


def _index_bounds() -> np.ndarray:
    """For each index k >= 1, the smallest float32 scale whose index is k: the formula is monotone
    in the scale, so a binary search over the float32 bit patterns finds it exactly."""
    lo_bits = np.array([SCALE_MIN], dtype=np.float32).view(np.int32)[0]
    hi_bits = np.array([SCALE_MAX], dtype=np.float32).view(np.int32)[0]
    targets = np.arange(1, SCALE_LEVELS, dtype=np.float32)
    low = np.full(targets.shape, lo_bits, dtype=np.int64)
    high = np.full(targets.shape, hi_bits + 1, dtype=np.int64)
    while np.any(low < high):
        mid = (low + high) // 2
        above = _index_value(mid.astype(np.int32).view(np.float32)) >= targets
        high = np.where(above & (low < high), mid, high)
        low = np.where(~above & (low < high), mid + 1, low)
    return low.astype(np.int32).view(np.float32)


_BOUNDS = _index_bounds()


def scale_index(scales: np.ndarray) -> np.ndarray:
    """Table index (uint8) of each float32 scale: the floor of its log position, clamped to the table.

    Computed by comparison with the exact bounds of each index, so the result does not depend on
    the CPU's log kernel (PyTorch's vectorised float32 log agrees on all 6e7 float32 scales of the
    table's range on AVX-512; tests/codec/test_bundle.py checks it on the machine it runs on)."""
    clamped = np.clip(np.asarray(scales, dtype=np.float32), _F32(SCALE_MIN), _F32(SCALE_MAX))
    return np.searchsorted(_BOUNDS, clamped, side="right").astype(np.uint8)


def coded_positions(s_w: np.ndarray, thres: float | None) -> np.ndarray:
    """Boolean mask of written elements: scale (clamped to the table) above the threshold."""
    if thres is None:
        return np.ones(s_w.shape, dtype=bool)
    return np.clip(s_w, _F32(SCALE_MIN), _F32(SCALE_MAX)) > _F32(thres)


_Z_MODEL = constriction.stream.model.Categorical(perfect=False)
_Y_MODEL = constriction.stream.model.QuantizedGaussian(SYMBOL_MIN, SYMBOL_MAX)
_TABLE = scale_table().astype(np.float64)


def z_model_args(z_probs: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The per-element PMFs of z [C, H, W] in raster order: each channel's PMF repeated."""
    return np.repeat(z_probs, shape[2] * shape[3], axis=0)


def y_arrays(y_q_w: np.ndarray | None, s_w: np.ndarray, thres: float | None):
    """(written positions, their symbols (None on the decoder side), their table scales)."""
    keep = coded_positions(s_w, thres)
    sigma = _TABLE[scale_index(s_w[keep]).astype(np.int64)]
    symbols = None if y_q_w is None else y_q_w[keep].astype(np.int32)
    return keep, symbols, sigma


def encode_payload(z_hat: np.ndarray, z_probs: np.ndarray, steps: list[tuple[np.ndarray, np.ndarray]],
                   thres: float | None) -> bytes:
    """One frame's payload: z (channel-major, raster), then each step's written y elements."""
    encoder = constriction.stream.queue.RangeEncoder()
    z_symbols = (z_hat.reshape(-1).astype(np.int32) - SYMBOL_MIN).astype(np.int32)
    encoder.encode(z_symbols, _Z_MODEL, z_model_args(z_probs, tuple(z_hat.shape)))
    for y_q_w, s_w in steps:
        _, symbols, sigma = y_arrays(y_q_w, s_w, thres)
        if symbols.size:
            encoder.encode(symbols, _Y_MODEL, np.zeros_like(sigma), sigma)
    return encoder.get_compressed().tobytes()


class PayloadReader:
    """Decoder of one payload: z first, then the steps in order; float32 arrays out."""

    def __init__(self, payload: bytes, thres: float | None) -> None:
        if len(payload) % 4:
            raise ValueError(f"payload of {len(payload)} bytes is not a whole number of words")
        self.thres = thres
        self._decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(payload, dtype=np.uint32).copy())

    def read_z(self, z_probs: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
        symbols = self._decoder.decode(_Z_MODEL, z_model_args(z_probs, shape)).astype(np.int64) + SYMBOL_MIN
        return symbols.astype(np.float32).reshape(shape)

    def read_step(self, s_w: np.ndarray) -> np.ndarray:
        keep, _, sigma = y_arrays(None, s_w, self.thres)
        out = np.zeros(s_w.shape, dtype=np.float32)
        if sigma.size:
            out[keep] = self._decoder.decode(_Y_MODEL, np.zeros_like(sigma), sigma).astype(np.float32)
        return out

    def exhausted(self) -> bool:
        """Whether the payload may be fully read: true after the last symbol of a valid
        payload; false when data is left (a corrupted or forged stream read as a smaller frame)."""
        return self._decoder.maybe_exhausted()
