"""Spatial-prior step masks and the decoder's step bookkeeping in numpy (SPEC 6.2 / 7.2): the
masks are shared with the PyTorch codec (``net.prior.step_mask``), the bookkeeping mirrors
``net.prior.ReadSteps`` op for op in float32, so the deployed decoder recomputes the encoder's
scales, symbols and latents bit for bit."""

from __future__ import annotations

import numpy as np

# Position patterns on the latent grid, as functions of (row, column).
QUAD_PATTERNS = ((0, 0), (0, 1), (1, 0), (1, 1))  # A, B, C, D: (row parity, column parity)
IMAGE_STEP_PATTERNS = ((0, 1, 2, 3), (3, 2, 1, 0), (2, 3, 0, 1), (1, 0, 3, 2))  # per quarter
VIDEO_STEP_PATTERNS = ((0, 1), (1, 0))  # per half: 0 = (i + j) even, 1 = odd


def _position_pattern(pattern: int, groups: int, height: int, width: int) -> np.ndarray:
    rows = np.arange(height).reshape(-1, 1)
    cols = np.arange(width).reshape(1, -1)
    if groups == 4:
        row_parity, col_parity = QUAD_PATTERNS[pattern]
        hit = ((rows % 2) == row_parity) & ((cols % 2) == col_parity)
    else:
        hit = ((rows + cols) % 2) == pattern
    return hit.astype(np.float32)


def step_mask(patterns: tuple[int, ...], channels: int, height: int, width: int) -> np.ndarray:
    """0/1 float32 mask [1, channels, H, W]: channel group g uses position pattern ``patterns[g]``."""
    per_group = channels // len(patterns)
    planes = [np.broadcast_to(_position_pattern(p, len(patterns), height, width), (per_group, height, width))
              for p in patterns]
    return np.concatenate(planes, axis=0)[None]


def pack(x: np.ndarray, groups: int) -> np.ndarray:
    """Sum the channel groups in order (one is active at each position)."""
    parts = np.split(x, groups, axis=1)
    out = parts[0]
    for part in parts[1:]:
        out = out + part
    return out


def read_step(reader, groups: int, scales: np.ndarray, means: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """One decoder step (``net.prior.ReadSteps.code``): the step's y_hat part from the payload."""
    s_w = pack(scales * mask, groups)
    y_q = np.tile(reader.read_step(s_w), (1, groups, 1, 1)) * mask
    return y_q + means * mask
