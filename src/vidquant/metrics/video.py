"""Full-reference comparison of two frame streams; a failure mid-stream keeps the frames measured so far."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Iterable, Iterator, Protocol

import numpy as np
from tqdm import tqdm

from vidquant.errors import VidquantError
from vidquant.metrics.psnr import PlaneErrors, plane_errors, psnr_from_mse, rgb_psnr, yuv_psnr
from vidquant.metrics.ssim import ms_ssim_plane, ms_ssim_scales, ssim_plane


class PlanarFrame(Protocol):
    """What the comparison needs from a frame (``vidquant.io.Frame`` fits)."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    bit_depth: int
    rgb: np.ndarray | None


@dataclass(frozen=True)
class FrameMetrics:
    index: int
    psnr_y: float
    psnr_u: float
    psnr_v: float
    psnr_yuv: float
    ssim_y: float | None = None
    ms_ssim_y: float | None = None
    psnr_rgb: float | None = None


@dataclass(frozen=True)
class PooledPsnr:
    """PSNR of the MSE averaged over all frames (the FFmpeg ``psnr`` filter summary convention)."""

    psnr_y: float
    psnr_u: float
    psnr_v: float
    psnr_yuv: float


@dataclass
class VideoComparison:
    """Per-frame metrics; ``error`` is set when reading stopped early (frames before it are kept)."""

    frames: list[FrameMetrics] = field(default_factory=list)
    errors: list[PlaneErrors] = field(default_factory=list)
    ms_ssim_scales: int | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def mean(self) -> dict[str, float | None]:
        """Average of each per-frame metric (the DCVC convention for sequence PSNR)."""
        names = [f.name for f in fields(FrameMetrics) if f.name != "index"]
        return {n: _mean([getattr(f, n) for f in self.frames]) for n in names}

    def pooled(self) -> PooledPsnr | None:
        if not self.errors:
            return None
        peak = self.errors[0].peak
        y, u, v = (psnr_from_mse(float(np.mean([getattr(e, k) for e in self.errors])), peak)
                   for k in ("mse_y", "mse_u", "mse_v"))
        return PooledPsnr(y, u, v, yuv_psnr(y, u, v))


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present and len(present) == len(values) else None


def measure_frame(index: int, ref: PlanarFrame, dis: PlanarFrame, with_ssim: bool, scales: int | None):
    """All metrics of one frame pair, plus its plane MSEs for pooling."""
    errors = plane_errors(ref, dis)
    peak = errors.peak
    rgb = None
    if ref.rgb is not None and dis.rgb is not None:
        rgb = rgb_psnr(ref.rgb, dis.rgb, 16 if ref.rgb.dtype == np.uint16 else 8)
    metrics = FrameMetrics(
        index, errors.psnr_y, errors.psnr_u, errors.psnr_v, errors.psnr_yuv,
        ssim_plane(ref.y, dis.y, peak) if with_ssim else None,
        ms_ssim_plane(ref.y, dis.y, peak, scales) if with_ssim else None,
        rgb,
    )
    return metrics, errors


def _pairs(ref: Iterable[PlanarFrame], dis: Iterable[PlanarFrame], result: VideoComparison) -> Iterator[tuple]:
    """Zip two streams; a read error ends the stream and is kept on ``result``."""
    ref_it, dis_it = iter(ref), iter(dis)
    while True:
        try:
            pair = next(ref_it, None), next(dis_it, None)
        except VidquantError as error:
            result.error = str(error)
            return
        if pair[0] is None or pair[1] is None:
            if pair[0] is not pair[1]:
                shorter = "reference" if pair[0] is None else "distorted"
                result.notes.append(f"the {shorter} video ended first; compared its frames only")
            return
        yield pair


def compare_frames(
    ref: Iterable[PlanarFrame],
    dis: Iterable[PlanarFrame],
    with_ssim: bool = True,
    first_index: int = 0,
    progress: bool = False,
    total: int | None = None,
) -> VideoComparison:
    """PSNR (Y, U, V, 6:1:1 YUV, RGB when both have RGB), SSIM and MS-SSIM on Y, frame by frame."""
    result = VideoComparison()
    pairs = tqdm(_pairs(ref, dis, result), total=total, disable=not progress, unit="frame", leave=False)
    for offset, (r, d) in enumerate(pairs):
        if with_ssim and result.ms_ssim_scales is None:
            try:
                result.ms_ssim_scales = ms_ssim_scales(*r.y.shape)
            except VidquantError as error:
                result.notes.append(f"SSIM skipped: {error}")
                with_ssim = False
        try:
            metrics, errors = measure_frame(first_index + offset, r, d, with_ssim, result.ms_ssim_scales)
        except VidquantError as error:
            result.error = f"frame {first_index + offset}: {error}"
            break
        result.frames.append(metrics)
        result.errors.append(errors)
    return result
