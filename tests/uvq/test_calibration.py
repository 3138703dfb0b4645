"""Calibration frames for UVQ quantization: short clips and raw .yuv files are read."""

from __future__ import annotations

from tests.conftest import shared_file
from vidquant.models.uvq.calibration import calibration_frames


def test_calibration_frames_read_short_clips_and_raw_yuv() -> None:
    clip = shared_file("data/video/h264/two_people_test_vd_rc.264")  # 9 frames: too short to score
    yuv = shared_file("data/video/yuv/ciscovt2people_160x96_5f.yuv")
    frames = calibration_frames([clip, yuv], per_clip=3)
    assert frames.shape == (6, 3, 1080, 1920)
    assert float(frames.min()) >= -1 and float(frames.max()) <= 1 and float(frames.std()) > 0.05
