"""Video quality and rate measurements: PSNR, SSIM/MS-SSIM, bpp, BD-rate (pure functions)."""

from vidquant.metrics.psnr import PSNR_CAP, PlaneErrors, mse, peak_for, plane_errors, psnr, rgb_psnr, yuv_psnr
from vidquant.metrics.ssim import ms_ssim_plane, ms_ssim_scales, ssim_plane
from vidquant.metrics.bpp import bits_per_pixel
from vidquant.metrics.bd import BDResult, BDTable, RDCurve, bd_psnr, bd_rate, bd_table, bjontegaard
from vidquant.metrics.video import FrameMetrics, PooledPsnr, VideoComparison, compare_frames
