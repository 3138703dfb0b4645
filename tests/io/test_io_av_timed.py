"""Timed PyAV decoding (vidquant.io.av_timed): probe, frame times, filter graphs, one-line errors."""

from fractions import Fraction

import numpy as np
import pytest

from tests.io.test_io_av_png import encode, gradient_frames
from vidquant.errors import VidquantError
from vidquant.io.av_timed import TimedFrames, autorotate_filters, frame_times, probe_video


def test_probe_times_and_filtered_frames(tmp_path):
    path = tmp_path / "clip.mp4"
    encode(path, gradient_frames(5))  # 25 frames/s, 64x48
    info = probe_video(path, count_frames=True)
    assert (info.frame_rate, info.width, info.height, info.frame_count) == (Fraction(25), 64, 48, 5)
    assert info.duration == pytest.approx(0.2, abs=0.05)
    times = frame_times(path)
    assert [t for t, _ in times] == pytest.approx([0.0, 0.04, 0.08, 0.12, 0.16])
    assert all(d == pytest.approx(0.04) for _, d in times)
    with TimedFrames(path) as video:
        frames = [video.convert(f, [("scale", "32:16:flags=bicubic"), ("format", "rgb24")]) for f in video]
    assert len(frames) == 5 and frames[0].shape == (16, 32, 3) and frames[0].dtype == np.uint8
    assert not np.array_equal(frames[0], frames[4])


def test_autorotate_is_the_ffmpeg_clis():
    assert autorotate_filters(90) == [("transpose", "cclock")]
    assert autorotate_filters(-180) == [("hflip", None), ("vflip", None)]
    assert autorotate_filters(0) == []


def test_errors_are_one_line(tmp_path):
    with pytest.raises(VidquantError, match="^no such video file$"):
        probe_video(tmp_path / "missing.mp4")
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all" * 10)
    with pytest.raises(VidquantError, match="^cannot read the video: "):
        frame_times(tmp_path / "broken.mp4")
