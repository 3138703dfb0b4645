"""Frame selection (ffmpeg CFR rule), nominal indices and the per-video sampling plan."""

from __future__ import annotations

import pytest

from vidquant.errors import VidquantError
from vidquant.models.uvq.sampling import VideoProbe, cfr_indices, nominal_frame_indices, plan_sampling


def _clip(count: int, fps: float) -> tuple[list[float], list[float]]:
    return [i / fps for i in range(count)], [1 / fps] * count


@pytest.mark.parametrize(
    "rate, expected",
    [(1, [0, 1, 26, 56, 86, 116]), (2, [0, 1, 13, 28, 43, 58, 73, 88, 103, 118])],
)
def test_downsampling_matches_spec_examples(rate, expected):
    times, durations = _clip(120, 30000 / 1001)
    assert cfr_indices(times, durations, rate) == expected


def test_same_rate_keeps_every_frame():
    times, durations = _clip(120, 30000 / 1001)
    assert cfr_indices(times, durations, 30) == list(range(120))


def test_upsampling_repeats_frames_and_keeps_order():
    times, durations = _clip(25, 25.0)
    out = cfr_indices(times, durations, 50)
    assert out == sorted(out) and set(out) == set(range(25))
    assert 49 <= len(out) <= 51


def test_timestamp_gap_repeats_previous_frame():
    times = [0.0, 0.1, 0.5, 0.6]
    out = cfr_indices(times, [0.1] * 4, 10)
    assert out[:2] == [0, 1] and out.count(1) > 1 and out[-1] == 3


def test_nominal_indices():
    assert nominal_frame_indices(5, 30, 1) == [0, 30, 60, 90, 120]
    assert nominal_frame_indices(4, 25, 2) == [0, 12, 25, 38]  # round half to even: 12.5 -> 12
    assert nominal_frame_indices(3, None, 1) == [0, 1, 2]


CARPHONE = VideoProbe(duration=4.004, frame_rate=30, width=176, height=144, frame_count=120)


def test_single_mode_plan():
    plan = plan_sampling(CARPHONE, fps=1, transpose=True, batch=False)
    assert (plan.seconds, plan.rate, plan.orig_fps, plan.transpose, plan.frames) == (5, 1, 30, True, 5)


def test_single_mode_all_frames_uses_counted_frames():
    plan = plan_sampling(CARPHONE, fps=-1, transpose=False, batch=False)
    assert (plan.seconds, plan.rate, plan.frames) == (4, 30, 120)


def test_batch_mode_keeps_duration_and_rotates_portrait():
    landscape = plan_sampling(CARPHONE, fps=-1, transpose=True, batch=True)
    assert (landscape.seconds, landscape.transpose) == (5, False)
    portrait = VideoProbe(duration=2.0, frame_rate=25, width=144, height=176)
    assert plan_sampling(portrait, fps=1, transpose=False, batch=True).transpose


@pytest.mark.parametrize("batch", [False, True])
def test_duration_from_frame_count_when_unknown(batch):
    probe = VideoProbe(duration=None, frame_rate=25, width=64, height=48, frame_count=60)
    assert plan_sampling(probe, fps=1, transpose=False, batch=batch).seconds == 3


@pytest.mark.parametrize(
    "probe, fps, message",
    [
        (VideoProbe(0.5, 30, 64, 48), 1, "shorter than 1 s"),
        (VideoProbe(None, 30, 64, 48), 1, "duration"),
        (VideoProbe(3.0, None, 64, 48), 1, "frame rate"),
        (VideoProbe(3.0, 30, 64, 48), 0, "positive"),
    ],
)
def test_unusable_videos_fail_in_one_line(probe, fps, message):
    with pytest.raises(VidquantError, match=message):
        plan_sampling(probe, fps=fps, transpose=False, batch=False)
