"""SSIM and MS-SSIM on the luma plane via pytorch-msssim (Wang et al. definitions, 11x11 Gaussian).

Five-scale MS-SSIM needs a short side above (11 - 1) * 2**4 = 160 pixels. Smaller frames use
as many scales as fit (at most 5), the first weights rescaled to the 5-scale total; the number
of scales used is reported alongside the value.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_msssim import ms_ssim, ssim
from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim

from vidquant.errors import VidquantError

WIN_SIZE = 11
WIN_SIGMA = 1.5
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim_scales(height: int, width: int) -> int:
    """Largest number of scales (<= 5) whose coarsest level still exceeds the window."""
    short = min(height, width)
    for scales in range(len(MS_SSIM_WEIGHTS), 0, -1):
        if short > (WIN_SIZE - 1) * 2 ** (scales - 1):
            return scales
    raise VidquantError(f"frame {width}x{height} is too small for SSIM (short side must exceed {WIN_SIZE - 1} px)")


def _as_tensor(plane: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(plane, dtype=np.float64))[None, None]


def ssim_plane(ref: np.ndarray, dis: np.ndarray, peak: float) -> float:
    """Single-scale SSIM of two planes."""
    ms_ssim_scales(*ref.shape)
    return float(ssim(_as_tensor(ref), _as_tensor(dis), data_range=peak, win_size=WIN_SIZE))


def ms_ssim_plane(ref: np.ndarray, dis: np.ndarray, peak: float, scales: int | None = None) -> float:
    """MS-SSIM of two planes with ``scales`` levels (default: as many as fit, at most 5)."""
    scales = scales or ms_ssim_scales(*ref.shape)
    x, y = _as_tensor(ref), _as_tensor(dis)
    if scales == len(MS_SSIM_WEIGHTS):
        return float(ms_ssim(x, y, data_range=peak, win_size=WIN_SIZE))
    return _few_scale_ms_ssim(x, y, peak, scales)


def _few_scale_ms_ssim(x: torch.Tensor, y: torch.Tensor, peak: float, scales: int) -> float:
    """pytorch-msssim's level loop, for frames its 5-scale size check rejects."""
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=x.dtype)
    weights = weights * (sum(MS_SSIM_WEIGHTS) / weights.sum())  # same total exponent as 5 scales
    win = _fspecial_gauss_1d(WIN_SIZE, WIN_SIGMA).to(x.dtype).repeat([x.shape[1], 1, 1, 1])
    levels = []
    for level in range(scales):
        ssim_value, cs = _ssim(x, y, data_range=peak, win=win, size_average=False)
        if level < scales - 1:
            levels.append(torch.relu(cs))
            padding = [s % 2 for s in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=padding)
            y = F.avg_pool2d(y, kernel_size=2, padding=padding)
    levels.append(torch.relu(ssim_value))
    return float(torch.prod(torch.stack(levels, dim=0) ** weights.view(-1, 1, 1), dim=0).mean())
