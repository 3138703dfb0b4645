"""compare_frames: per-frame rows, means vs pooled PSNR, and partial results when a stream breaks."""

import numpy as np
import pytest

from vidquant.errors import VidquantError
from vidquant.io import Frame
from vidquant.metrics import compare_frames, psnr


def frames(count, seed, noise=0.0, size=(24, 32)):
    rng = np.random.default_rng(seed)
    base = rng.integers(16, 240, size)
    out = []
    for i in range(count):
        y = np.clip(base + i + rng.normal(0, noise, size) * (i + 1), 0, 255).astype(np.uint8)
        out.append(Frame(y, y[::2, ::2].copy(), y[1::2, 1::2].copy()))
    return out


def test_rows_mean_and_pooled():
    ref, dis = frames(4, 0), frames(4, 0, noise=2.0)
    result = compare_frames(ref, dis)
    assert [f.index for f in result.frames] == [0, 1, 2, 3] and result.error is None
    assert result.frames[2].psnr_y == pytest.approx(psnr(ref[2].y, dis[2].y))
    mean = result.mean()
    assert mean["psnr_y"] == pytest.approx(np.mean([f.psnr_y for f in result.frames]))
    # Averaging dB favours good frames; pooling MSE first cannot give more (Jensen).
    assert result.pooled().psnr_y < mean["psnr_y"]
    assert result.ms_ssim_scales == 2 and 0 < mean["ms_ssim_y"] < 1
    assert mean["psnr_rgb"] is None


def broken_stream(good, index):
    yield from good[:index]
    raise VidquantError(f"cannot read clip.y4m at frame {index}: bad Y4M frame header b'JUNK!\\n'")


def test_error_mid_stream_keeps_earlier_frames():
    result = compare_frames(frames(6, 0), broken_stream(frames(6, 1), 3), with_ssim=False)
    assert len(result.frames) == 3 and result.frames[-1].ssim_y is None
    assert result.error == "cannot read clip.y4m at frame 3: bad Y4M frame header b'JUNK!\\n'"


def test_size_change_mid_stream_is_an_error_with_frame_index():
    dis = frames(3, 1)
    dis[2] = frames(1, 1, size=(24, 30))[0]
    result = compare_frames(frames(3, 0), dis, with_ssim=False, first_index=10)
    assert len(result.frames) == 2 and result.error == "frame 12: frame sizes differ: 32x24 vs 30x24"


def test_length_mismatch_is_noted_and_tiny_frames_skip_ssim():
    result = compare_frames(frames(3, 0, size=(8, 8)), frames(2, 1, size=(8, 8)))
    assert len(result.frames) == 2
    assert result.notes == ["SSIM skipped: frame 8x8 is too small for SSIM (short side must exceed 10 px)",
                            "the distorted video ended first; compared its frames only"]
