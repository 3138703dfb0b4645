"""Reconstruction quality on the .mat benchmark files: per-frame and mean PSNR/SSIM, PNG grid."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from pytorch_msssim import ssim as _ssim
from tqdm import tqdm

from vidquant.errors import VidquantError
from vidquant.metrics.psnr import check_finite, psnr_from_mse
from vidquant.models.sci.data import Benchmark
from vidquant.models.sci.forward_model import measure


def psnr(reference: torch.Tensor, test: torch.Tensor, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB of two same-shape tensors (capped as vidquant.metrics caps it)."""
    return psnr_from_mse(torch.mean((reference.double() - test.double()) ** 2).item(), peak)


def ssim(reference: torch.Tensor, test: torch.Tensor) -> float:
    """SSIM of two (H, W) frames in [0, 1] (Gaussian 11x11 window, pytorch_msssim)."""
    return float(_ssim(reference[None, None], test[None, None], data_range=1.0, size_average=True))


@dataclass
class BenchmarkResult:
    """Scores of one benchmark file; ``recon`` (N, H, W) clamped to [0, 1]. ``consistency``:
    per group, the RMS of ``meas - sum_t mask_t * recon_t`` (measurement scale, /255), the one
    score a capture without ground truth has; ``psnr``/``ssim`` stay empty without it."""

    name: str
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    recon: torch.Tensor | None = None
    consistency: list[float] = field(default_factory=list)
    relative_consistency: list[float] = field(default_factory=list)

    @property
    def has_truth(self) -> bool:
        return bool(self.psnr)

    @property
    def mean_psnr(self) -> float:
        return float(np.mean(self.psnr))

    @property
    def mean_ssim(self) -> float:
        return float(np.mean(self.ssim))

    @property
    def mean_consistency(self) -> float:
        return float(np.mean(self.consistency))

    def to_dict(self) -> dict:
        scores = {"psnr": self.mean_psnr, "ssim": self.mean_ssim,
                  "psnr_per_frame": self.psnr, "ssim_per_frame": self.ssim} if self.has_truth else {}
        return {"file": self.name, **scores, "measurement_rmse": self.mean_consistency,
                "measurement_rmse_per_group": self.consistency,
                "measurement_relative_error_per_group": self.relative_consistency}


@torch.no_grad()
def evaluate(model: torch.nn.Module, benchmark: Benchmark, progress: bool = False) -> BenchmarkResult:
    """Reconstruct every snapshot group of ``benchmark`` with its own mask; score each frame
    against the ground truth (when the file has one) and each group's measurement consistency."""
    if model.config.frames != benchmark.frames:
        raise VidquantError(f"model reconstructs {model.config.frames} frames, {benchmark.name} has {benchmark.frames}")
    model.eval()
    result, recons = BenchmarkResult(benchmark.name), []
    for index in tqdm(range(benchmark.meas.shape[0]), desc=benchmark.name, disable=not progress, leave=False):
        y, truth = benchmark.group(index)
        recon = model(y, benchmark.mask).clamp(0.0, 1.0)
        recons.append(recon[0])
        for frame, frame_recon in enumerate(recon[0]):
            try:
                check_finite(frame_recon.numpy(), "reconstructed")
                if truth is not None:
                    check_finite(truth[0, frame].numpy(), "ground-truth")
            except VidquantError as error:
                raise VidquantError(f"{benchmark.name}, group {index}, frame {frame}: {error}") from None
            if truth is not None:
                result.psnr.append(psnr(truth[0, frame], frame_recon))
                result.ssim.append(ssim(truth[0, frame], frame_recon))
        residual = (y - measure(recon, benchmark.mask)).double()
        result.consistency.append(float(residual.pow(2).mean().sqrt()))
        result.relative_consistency.append(float(residual.norm() / y.double().norm().clamp_min(1e-12)))
    result.recon = torch.cat(recons)
    return result


def save_grid(path: str | Path, truth: torch.Tensor | None, recon: torch.Tensor, columns: int = 8) -> Path:
    """PNG with ground truth (top row; none without it) over reconstruction (bottom row) for the
    first ``columns`` frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = min(columns, recon.shape[0])
    rows = [torch.cat(list(frames[:count]), dim=1) for frames in (truth, recon) if frames is not None]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, torch.cat(rows, dim=0).numpy(), cmap="gray", vmin=0.0, vmax=1.0)
    return path
