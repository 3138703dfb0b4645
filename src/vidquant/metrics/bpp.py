"""Bits per pixel from real byte counts (bitstream sizes, not entropy estimates)."""

from __future__ import annotations

from typing import Iterable

from vidquant.errors import VidquantError


def bits_per_pixel(num_bytes: int | Iterable[int], width: int, height: int, frames: int = 1) -> float:
    """8 * bytes / (width * height * frames); a list of per-frame byte counts is summed."""
    total = num_bytes if isinstance(num_bytes, int) else sum(num_bytes)
    pixels = width * height * frames
    if pixels <= 0:
        raise VidquantError(f"bits per pixel needs a positive pixel count, got {width}x{height}x{frames}")
    if total < 0:
        raise VidquantError(f"byte count must not be negative, got {total}")
    return 8.0 * total / pixels
