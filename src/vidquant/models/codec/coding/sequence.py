"""Sequence control (SPEC 8): frame types, qp shifts and the reset interval of each frame;
I420 pictures to and from the networks' tensors (padding, cropping); PSNR of a decoded picture.
The coding of one frame is ``net.frame_coder.FrameCoder``."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vidquant.deploy.pictures import picture_to_i420
from vidquant.metrics.psnr import psnr_from_mse, yuv_psnr

from ..net.config import QP_SHIFT, QP_SHIFT_INDEX
from ..net.frame_coder import FramePlan
from ..net.layers import pad_to_multiple

PICTURE_MULTIPLE = 16


def plan_frame(index: int, qp_i: int, qp_p: int, intra_period: int, reset_interval: int) -> FramePlan:
    """Frame type, shifted qp and reset flag of frame ``index`` (SPEC 8.1-8.3)."""
    if index == 0 or (intra_period > 0 and index % intra_period == 0):
        return FramePlan(index, "I", qp_i)
    qp = qp_p + QP_SHIFT[QP_SHIFT_INDEX[index % 8]]
    reset = reset_interval > 0 and index % reset_interval == 1
    return FramePlan(index, "P", qp, reset)


# --------------------------------------------------------------------------- pictures


def yuv420_to_tensor(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> torch.Tensor:
    """8-bit planes -> [1, 3, h, w] float in [0, 1] with nearest 2x chroma upsampling."""
    luma = torch.from_numpy(np.array(y, dtype=np.float32)).unsqueeze(0)
    chroma = torch.from_numpy(np.stack((u, v)).astype(np.float32))
    chroma = chroma.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)[:, : y.shape[0], : y.shape[1]]
    return (torch.cat((luma, chroma), dim=0) / 255.0).unsqueeze(0)


def crop_to_tensor(planes: tuple[np.ndarray, np.ndarray, np.ndarray], top: int, left: int,
                   height: int, width: int) -> torch.Tensor:
    """[3, height, width] of a window of I420 planes (even offsets and sizes keep chroma aligned)."""
    y, u, v = planes
    rows, cols = slice(top // 2, (top + height) // 2), slice(left // 2, (left + width) // 2)
    return yuv420_to_tensor(y[top : top + height, left : left + width], u[rows, cols], v[rows, cols])[0]


def pad_picture(x: torch.Tensor) -> torch.Tensor:
    """Edge-replicate right/bottom to a multiple of 16."""
    return pad_to_multiple(x, PICTURE_MULTIPLE)


def tensor_to_yuv420(x: torch.Tensor, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cropped reconstruction -> 8-bit I420 planes (``vidquant.deploy.pictures.picture_to_i420``)."""
    return picture_to_i420(x.detach().float().numpy(), height, width)


def psnr_yuv420(x_crop: torch.Tensor, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> list[float]:
    """[combined, Y, U, V] PSNR of a cropped [1, 3, h, w] reconstruction (SPEC 9)."""
    x_crop = x_crop.float()  # pooling and scaling in float32, the error sums in float64
    chroma = F.avg_pool2d(x_crop[:, 1:3], 2)
    planes = (x_crop[0, 0], chroma[0, 0], chroma[0, 1])
    values = []
    for ours, ref in zip(planes, (y, u, v)):
        ours = (ours * 255.0).clamp(0.0, 255.0).double()
        mse = float(((ours - torch.from_numpy(ref.astype(np.float64))) ** 2).mean())
        values.append(psnr_from_mse(mse, 255.0))
    return [yuv_psnr(*values), *values]
