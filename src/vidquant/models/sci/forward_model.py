"""Video snapshot compressive imaging: masks, the measurement y = sum_t M_t X_t, and the
normalized input EfficientSCI reconstructs from (measurement / mask sum, mask-weighted estimate).

Shapes: frames X are (B, T, H, W) in [0, 1], masks M are (T, H, W) or (B, T, H, W),
measurements y are (B, H, W).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vidquant.errors import VidquantError, first_line

DEFAULT_FRAMES = 8  # compression ratio: frames summed into one measurement


def random_masks(
    frames: int, height: int, width: int, *, batch: int | None = None,
    density: float = 0.5, generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Random binary masks (T, H, W), or (B, T, H, W) with ``batch``; ``density`` = P(open)."""
    shape = (frames, height, width) if batch is None else (batch, frames, height, width)
    return (torch.rand(shape, generator=generator) < density).float()


def load_mask(path: str | Path) -> torch.Tensor:
    """A (T, H, W) mask from a .npy file (T, H, W) or a .mat file's ``mask`` key (H, W, T)."""
    path = Path(path)
    if not path.is_file():
        raise VidquantError(f"mask file not found: {path}")
    try:
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)  # an object array (pickles) is refused here
        elif path.suffix == ".mat":
            from scipy.io import loadmat

            data = loadmat(path)
            if "mask" not in data:
                raise VidquantError(f"{path} has no 'mask' key")
            array = np.moveaxis(data["mask"], -1, 0)
        else:
            raise VidquantError(f"mask file must be .npy or .mat: {path}")
    except VidquantError:
        raise
    except Exception as error:  # numpy / scipy raise many types for bad files
        raise VidquantError(f"cannot read mask {path}: {first_line(error)}") from None
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise VidquantError(f"mask in {path} must hold numbers, got dtype {array.dtype}")
    if array.ndim != 3:
        raise VidquantError(f"mask in {path} must have 3 dimensions, got shape {array.shape}")
    return torch.from_numpy(np.ascontiguousarray(array)).float()


def measure(frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The snapshot y = sum_t M_t * X_t of (B, T, H, W) frames: (B, H, W)."""
    if frames.shape[-3:] != mask.shape[-3:]:
        raise VidquantError(f"frames {tuple(frames.shape)} and mask {tuple(mask.shape)} differ in T, H, W")
    return (frames * mask).sum(dim=-3)


def mask_sum(mask: torch.Tensor) -> torch.Tensor:
    """Per-pixel count of open masks, (…, H, W); pixels never open count as 1 to allow division."""
    total = mask.sum(dim=-3)
    return torch.where(total == 0, torch.ones_like(total), total)


def initial_estimate(y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """EfficientSCI's network input (B, 1, T, H, W): y / sum(M) broadcast over frames plus the
    same normalized measurement weighted by each frame's mask.

    Dividing by the mask sum puts the measurement back on the frames' [0, 1] scale whatever T is.
    """
    normalized = (y / mask_sum(mask)).unsqueeze(-3)
    return (normalized + mask * normalized).unsqueeze(1)
