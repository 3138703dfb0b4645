"""YUV <-> RGB for BT.601 / BT.709, limited and full range, any bit depth (ITU-T H.273 equations)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidquant.errors import VidquantError
from vidquant.io.frame import Frame, format_for_depth

# Luma weights (Kr, Kb) per matrix; Kg = 1 - Kr - Kb.
MATRICES: dict[str, tuple[float, float]] = {
    "bt601": (0.299, 0.114),
    "bt709": (0.2126, 0.0722),
}


@dataclass(frozen=True)
class ColorSpec:
    """Which matrix and which quantisation range a YUV signal uses."""

    matrix: str = "bt709"
    full_range: bool = False

    def __post_init__(self) -> None:
        if self.matrix not in MATRICES:
            raise VidquantError(f"unknown colour matrix {self.matrix!r} (valid: {', '.join(MATRICES)})")

    def ranges(self, bit_depth: int) -> tuple[float, float, float, float]:
        """(luma offset, luma scale, chroma offset, chroma scale) in code values."""
        if self.full_range:
            peak = float((1 << bit_depth) - 1)
            return 0.0, peak, float(1 << (bit_depth - 1)), peak
        step = float(1 << (bit_depth - 8))
        return 16 * step, 219 * step, 128 * step, 224 * step


def rgb_to_yuv444(rgb: np.ndarray, bit_depth: int, spec: ColorSpec) -> tuple[np.ndarray, ...]:
    """RGB code values (H, W, 3) at ``bit_depth`` -> unrounded Y, U, V code values (float64)."""
    kr, kb = MATRICES[spec.matrix]
    e = rgb.astype(np.float64) / ((1 << bit_depth) - 1)
    luma = kr * e[..., 0] + (1 - kr - kb) * e[..., 1] + kb * e[..., 2]
    pb = (e[..., 2] - luma) / (2 * (1 - kb))
    pr = (e[..., 0] - luma) / (2 * (1 - kr))
    y_off, y_scale, c_off, c_scale = spec.ranges(bit_depth)
    return y_off + y_scale * luma, c_off + c_scale * pb, c_off + c_scale * pr


def yuv444_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, bit_depth: int, spec: ColorSpec) -> np.ndarray:
    """Y, U, V code values (same shape) -> unrounded RGB code values (H, W, 3), float64."""
    kr, kb = MATRICES[spec.matrix]
    y_off, y_scale, c_off, c_scale = spec.ranges(bit_depth)
    luma = (y.astype(np.float64) - y_off) / y_scale
    pb = (u.astype(np.float64) - c_off) / c_scale
    pr = (v.astype(np.float64) - c_off) / c_scale
    r = luma + 2 * (1 - kr) * pr
    b = luma + 2 * (1 - kb) * pb
    g = (luma - kr * r - kb * b) / (1 - kr - kb)
    return np.stack([r, g, b], axis=-1) * ((1 << bit_depth) - 1)


def upsample_420(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """Chroma to full size by sample repetition (nearest), cropped to odd sizes."""
    return np.repeat(np.repeat(plane, 2, axis=0), 2, axis=1)[:height, :width]


def downsample_420(plane: np.ndarray) -> np.ndarray:
    """Full-size chroma to 4:2:0 by 2x2 averaging (edges replicated for odd sizes)."""
    h, w = plane.shape
    padded = np.pad(plane, ((0, h % 2), (0, w % 2)), mode="edge")
    return padded.reshape((h + 1) // 2, 2, (w + 1) // 2, 2).mean(axis=(1, 3))


def _to_samples(values: np.ndarray, bit_depth: int) -> np.ndarray:
    peak = (1 << bit_depth) - 1
    return np.clip(np.rint(values), 0, peak).astype(format_for_depth(bit_depth).dtype)


def to_yuv420p(frame: Frame) -> Frame:
    """``frame`` as 8-bit 4:2:0: 4:4:4 chroma averaged over 2x2 blocks, samples above 8 bit
    shifted to 8 with rounding (10-bit 940 -> 235); an 8-bit 4:2:0 frame is returned as is."""
    if frame.fmt.name == "yuv420p":
        return frame
    scale = 1.0 / (1 << (frame.bit_depth - 8))
    chroma = [downsample_420(p) if p.shape == frame.y.shape else p for p in (frame.u, frame.v)]
    y, u, v = (_to_samples(p.astype(np.float64) * scale, 8) for p in (frame.y, *chroma))
    return Frame(y, u, v, 8)


def frame_to_rgb(frame: Frame, spec: ColorSpec) -> np.ndarray:
    """Integer RGB (H, W, 3) at the frame's bit depth, 4:2:0 chroma upsampled by repetition."""
    full = frame.u.shape == frame.y.shape
    u = frame.u if full else upsample_420(frame.u, frame.height, frame.width)
    v = frame.v if full else upsample_420(frame.v, frame.height, frame.width)
    return _to_samples(yuv444_to_rgb(frame.y, u, v, frame.bit_depth, spec), frame.bit_depth)


def rgb_to_frame(rgb: np.ndarray, bit_depth: int, spec: ColorSpec) -> Frame:
    """Integer RGB (H, W, 3) -> 4:2:0 Frame; keeps ``rgb`` so RGB metrics use the source."""
    y, u, v = rgb_to_yuv444(rgb, bit_depth, spec)
    return Frame(
        _to_samples(y, bit_depth),
        _to_samples(downsample_420(u), bit_depth),
        _to_samples(downsample_420(v), bit_depth),
        bit_depth,
        rgb=rgb,
    )
