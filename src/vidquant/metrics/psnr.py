"""PSNR per plane, the 6:1:1 YUV PSNR of video coding, and RGB PSNR (peak from the bit depth)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vidquant.errors import VidquantError

# Identical planes have infinite PSNR; report this cap instead so JSON and averages stay finite.
# 99.9 dB is the cap of DCVC's test script (conformance SPEC 9), which the codec reproduces; it is
# the one cap of the project (codec, compare, sci all call psnr_from_mse).
PSNR_CAP = 99.9


def peak_for(bit_depth: int) -> int:
    """Largest sample value at ``bit_depth`` (255 for 8-bit, 1023 for 10-bit)."""
    return (1 << bit_depth) - 1


def check_finite(picture: np.ndarray, what: str) -> None:
    """Refuse a picture with NaN or Inf samples: a metric of it would be meaningless (an MSE of
    NaN used to come out as the 99.9 dB cap)."""
    if np.issubdtype(picture.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(picture)))
        if bad:
            raise VidquantError(f"the {what} picture holds {bad} NaN or Inf sample(s)")


def mse(ref: np.ndarray, dis: np.ndarray) -> float:
    """Mean squared error in float64 (integer inputs never overflow); NaN or Inf samples in
    either picture are an error."""
    if ref.shape != dis.shape:
        raise VidquantError(f"shapes differ: {tuple(ref.shape)} vs {tuple(dis.shape)}")
    check_finite(ref, "reference")
    check_finite(dis, "distorted")
    diff = ref.astype(np.float64) - dis.astype(np.float64)
    return float(np.mean(diff * diff))


def psnr_from_mse(error: float, peak: float) -> float:
    """10 log10(peak^2 / mse), capped at ``PSNR_CAP``; a NaN or infinite MSE is an error."""
    if not math.isfinite(error):
        raise VidquantError(f"the mean squared error is {error}: a picture holds NaN or Inf samples")
    if error <= 0:
        return PSNR_CAP
    return min(PSNR_CAP, 10.0 * math.log10(peak * peak / error))


def psnr(ref: np.ndarray, dis: np.ndarray, peak: float = 255.0) -> float:
    return psnr_from_mse(mse(ref, dis), peak)


def yuv_psnr(psnr_y: float, psnr_u: float, psnr_v: float) -> float:
    """The 4:2:0 weighted PSNR (6*Y + U + V) / 8 used by JVET and the DCVC family."""
    return (6.0 * psnr_y + psnr_u + psnr_v) / 8.0


@dataclass(frozen=True)
class PlaneErrors:
    """Squared errors of one frame's Y, U, V planes (kept so sequence PSNR can pool MSE)."""

    mse_y: float
    mse_u: float
    mse_v: float
    peak: float

    @property
    def psnr_y(self) -> float:
        return psnr_from_mse(self.mse_y, self.peak)

    @property
    def psnr_u(self) -> float:
        return psnr_from_mse(self.mse_u, self.peak)

    @property
    def psnr_v(self) -> float:
        return psnr_from_mse(self.mse_v, self.peak)

    @property
    def psnr_yuv(self) -> float:
        return yuv_psnr(self.psnr_y, self.psnr_u, self.psnr_v)


def plane_errors(ref, dis) -> PlaneErrors:
    """Per-plane MSE of two frames (anything with ``y``, ``u``, ``v``, ``bit_depth``)."""
    if ref.bit_depth != dis.bit_depth:
        raise VidquantError(f"bit depths differ: {ref.bit_depth} vs {dis.bit_depth}")
    if ref.y.shape != dis.y.shape:
        (h1, w1), (h2, w2) = ref.y.shape, dis.y.shape
        raise VidquantError(f"frame sizes differ: {w1}x{h1} vs {w2}x{h2}")
    if ref.u.shape != dis.u.shape:
        (h1, w1), (h2, w2) = ref.u.shape, dis.u.shape
        raise VidquantError(f"chroma planes differ: {w1}x{h1} vs {w2}x{h2} (4:2:0 against 4:4:4? "
                            "convert one of them, e.g. with ffmpeg -pix_fmt)")
    errors = []
    for plane in ("y", "u", "v"):
        try:
            errors.append(mse(getattr(ref, plane), getattr(dis, plane)))
        except VidquantError as error:
            raise VidquantError(f"plane {plane.upper()}: {error}") from None
    return PlaneErrors(*errors, peak_for(ref.bit_depth))


def rgb_psnr(ref_rgb: np.ndarray, dis_rgb: np.ndarray, bit_depth: int = 8) -> float:
    """PSNR over all three RGB channels together (one MSE, as in DCVC's RGB results)."""
    return psnr(ref_rgb, dis_rgb, peak_for(bit_depth))
