"""Decoded pictures to 8-bit I420 and to a .yuv / .y4m file, in numpy: the one conversion that
the PyTorch codec (``coding.sequence.tensor_to_yuv420``) and the deployed decoder share."""

from __future__ import annotations

import numpy as np

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]
_ZERO, _ONE, _PEAK = np.float32(0), np.float32(1), np.float32(255)


def picture_to_i420(x: np.ndarray, height: int, width: int) -> Planes:
    """Padded float32 reconstruction [1, 3, H, W] -> cropped 8-bit I420 planes: chroma by 2x2
    average pooling (summed row by row, as PyTorch's avg_pool2d), samples rounded half to even."""
    x = np.clip(x[0, :, :height, :width], _ZERO, _ONE)
    chroma = x[1:3]
    pooled = ((chroma[:, 0::2, 0::2] + chroma[:, 0::2, 1::2]) + chroma[:, 1::2, 0::2]) + chroma[:, 1::2, 1::2]
    pooled = pooled / np.float32(4)
    to8 = lambda t: np.clip(np.rint(t * _PEAK), 0, 255).astype(np.uint8)  # noqa: E731
    return to8(x[0]), to8(pooled[0]), to8(pooled[1])
