"""PSNR per plane / 6:1:1 / RGB, bpp, SSIM and MS-SSIM (library path and the few-scale path)."""

import math

import numpy as np
import pytest
import torch
from pytorch_msssim import ms_ssim

from vidquant.errors import VidquantError
from vidquant.io import Frame
from vidquant.metrics import (PSNR_CAP, bits_per_pixel, ms_ssim_plane, ms_ssim_scales, plane_errors, psnr,
                              rgb_psnr, ssim_plane, yuv_psnr)
from vidquant.metrics.ssim import _few_scale_ms_ssim


def test_psnr_of_unit_error_at_8_and_10_bit():
    ref = np.full((4, 4), 100, dtype=np.uint16)
    assert psnr(ref, ref + 1, 255) == pytest.approx(10 * math.log10(255**2))
    assert psnr(ref, ref + 1, 1023) == pytest.approx(10 * math.log10(1023**2))
    assert psnr(ref, ref, 255) == PSNR_CAP


def test_psnr_cap_is_the_dcvc_test_scripts():
    """One cap, 99.9 dB (DCVC's test script): identical planes and errors too small to matter."""
    ref = np.zeros((2, 2), dtype=np.float64)
    assert PSNR_CAP == 99.9
    assert psnr(ref, ref + 1e-6, 255) == PSNR_CAP  # 168 dB uncapped
    assert psnr(ref, ref + 1e-5, 1.0) == PSNR_CAP  # 100 dB uncapped


def test_unsigned_inputs_do_not_wrap():
    ref = np.zeros((2, 2), dtype=np.uint8)
    assert psnr(ref, ref + 255, 255) == pytest.approx(0.0)


def test_plane_errors_and_611_weighting():
    rng = np.random.default_rng(0)
    y, u, v = (rng.integers(0, 1024, s, dtype=np.uint16) for s in ((8, 8), (4, 4), (4, 4)))
    ref = Frame(y, u, v, 10)
    dis = Frame(y ^ 1, u ^ 3, v, 10)
    errors = plane_errors(ref, dis)
    assert errors.peak == 1023
    assert errors.psnr_y == pytest.approx(psnr(y, y ^ 1, 1023))
    assert errors.psnr_v == PSNR_CAP
    assert errors.psnr_yuv == pytest.approx((6 * errors.psnr_y + errors.psnr_u + PSNR_CAP) / 8)
    assert yuv_psnr(40, 48, 48) == pytest.approx(42.0)


def test_size_and_depth_mismatch_are_errors():
    a = Frame(np.zeros((8, 8), np.uint8), np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8))
    b = Frame(np.zeros((8, 6), np.uint8), np.zeros((4, 3), np.uint8), np.zeros((4, 3), np.uint8))
    with pytest.raises(VidquantError, match=r"^frame sizes differ: 8x8 vs 6x8$"):
        plane_errors(a, b)
    c = Frame(*(p.astype(np.uint16) for p in a.planes), bit_depth=10)
    with pytest.raises(VidquantError, match=r"^bit depths differ: 8 vs 10$"):
        plane_errors(a, c)


def test_rgb_psnr_uses_one_mse_over_channels():
    ref = np.zeros((2, 2, 3), dtype=np.uint8)
    dis = ref.copy()
    dis[..., 0] = 3  # MSE over all channels = 9 / 3 = 3
    assert rgb_psnr(ref, dis) == pytest.approx(10 * math.log10(255**2 / 3))


def test_bits_per_pixel():
    assert bits_per_pixel(1000, 100, 10) == pytest.approx(8.0)
    assert bits_per_pixel([500, 250, 250], 100, 10, frames=3) == pytest.approx(8000 / 3000)
    with pytest.raises(VidquantError):
        bits_per_pixel(10, 0, 10)


@pytest.mark.parametrize("height, width, scales", [(90, 160, 4), (288, 352, 5), (161, 400, 5), (160, 400, 4),
                                                   (11, 20, 1)])
def test_ms_ssim_scales_follow_frame_size(height, width, scales):
    assert ms_ssim_scales(height, width) == scales


def test_tiny_frames_are_rejected():
    with pytest.raises(VidquantError, match=r"^frame 8x10 is too small for SSIM \(short side must exceed 10 px\)$"):
        ms_ssim_scales(10, 8)


def noisy_pair(height, width, seed=0):
    rng = np.random.default_rng(seed)
    ref = rng.integers(0, 256, (height, width)).astype(np.uint8)
    ref = np.clip(ref.astype(int) // 4 * 4, 0, 255).astype(np.uint8)
    dis = np.clip(ref + rng.normal(0, 6, ref.shape), 0, 255).astype(np.uint8)
    return ref, dis


def test_few_scale_loop_matches_library_at_five_scales():
    ref, dis = noisy_pair(176, 180)
    x, y = (torch.from_numpy(p.astype(np.float64))[None, None] for p in (ref, dis))
    assert _few_scale_ms_ssim(x, y, 255, 5) == pytest.approx(float(ms_ssim(x, y, data_range=255)), abs=1e-12)
    assert ms_ssim_plane(ref, dis, 255) == pytest.approx(float(ms_ssim(x, y, data_range=255)), abs=1e-12)


def test_ssim_orders_distortions_and_small_frames_work():
    ref, dis = noisy_pair(90, 160)
    worse = np.clip(dis.astype(int) + np.random.default_rng(1).normal(0, 12, dis.shape), 0, 255).astype(np.uint8)
    assert ssim_plane(ref, ref, 255) == pytest.approx(1.0)
    assert ms_ssim_plane(ref, ref, 255) == pytest.approx(1.0)
    assert 0 < ssim_plane(ref, worse, 255) < ssim_plane(ref, dis, 255) < 1
    assert 0 < ms_ssim_plane(ref, worse, 255) < ms_ssim_plane(ref, dis, 255) < 1


def test_non_finite_samples_or_mse_are_errors_not_the_cap():
    """psnr_from_mse(nan) was 100 dB; one NaN sample gave a perfect score."""
    from vidquant.metrics.psnr import psnr_from_mse

    for value in (math.nan, math.inf):
        with pytest.raises(VidquantError, match="mean squared error is"):
            psnr_from_mse(value, 255.0)
    ref = np.zeros((4, 4), np.float32)
    dis = ref.copy()
    dis[1, 2] = np.nan
    with pytest.raises(VidquantError, match="the distorted picture holds 1 NaN or Inf"):
        psnr(ref, dis)
    with pytest.raises(VidquantError, match="the reference picture holds 1 NaN or Inf"):
        psnr(dis, ref)
    planes = (np.zeros((4, 4), np.float32), np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32))
    broken = (planes[0], planes[1].copy(), planes[2])
    broken[1][0, 0] = np.inf
    with pytest.raises(VidquantError, match="plane U: the distorted picture"):
        plane_errors(Frame(*planes, bit_depth=8), Frame(*broken, bit_depth=8))
