"""Small synthetic content and models for the codec tests (CPU-cheap)."""

from __future__ import annotations

import numpy as np

from vidquant.models.codec import build_codec


def moving_frames(count: int, height: int = 64, width: int = 64, seed: int = 0):
    """I420 frames of a smooth pattern that shifts by one pixel per frame, plus noise."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    frames = []
    for t in range(count):
        luma = 128 + 60 * np.sin((cols + t) / 7.0) * np.cos(rows / 9.0) + rng.normal(0, 4, (height, width))
        chroma = 128 + 30 * np.sin((rows[::2, ::2] + cols[::2, ::2] + t) / 11.0)
        planes = (luma, chroma, 255 - chroma)
        frames.append(tuple(np.clip(p, 0, 255).astype(np.uint8) for p in planes))
    return frames


def synthetic_codec(preset: str = "dcvc-rt-small"):
    return build_codec(preset, synthetic=True)
