"""Which frames UVQ scores: the per-video plan (seconds, rate) and ffmpeg's constant-rate rule.

Pure functions on numbers (no decoding here) so they are testable without video files:
SPEC.md 7.2 (CFR frame selection), 7.6 (nominal frame indices), 8.3/8.4 (seconds and rate).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

from vidquant.errors import VidquantError

_DROP_BELOW = -1.1
_DUPLICATE_ABOVE = 1.1
_HISTORY = 3


class CfrSelector:
    """ffmpeg's constant-frame-rate output sync (``-r R``) replayed frame by frame.

    ``step`` takes one decoded frame's timestamp and duration in seconds and says how many
    output frames repeat the previously emitted frame and how many are this frame.
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.emitted = 0
        self._origin: float | None = None
        self._repeats: list[int] = [0] * _HISTORY

    def step(self, time: float, duration: float) -> tuple[int, int]:
        if self._origin is None:
            self._origin = time
        start = (time - self._origin) * self.rate
        delta0 = start - self.emitted
        delta = delta0 + min(duration * self.rate, 1.0)
        repeats = 0
        if delta < _DROP_BELOW:
            count = 0
        elif delta > _DUPLICATE_ABOVE:
            count = round(delta)
            if delta0 > _DUPLICATE_ABOVE:
                repeats = min(round(delta0 - 0.6), count)
        else:
            count = 1
        self._repeats = [repeats] + self._repeats[:-1]
        self.emitted += count
        return repeats, count - repeats

    def finish(self) -> int:
        """Copies of the last frame emitted at end of stream (median of the last repeat counts)."""
        return int(statistics.median(self._repeats))


def cfr_indices(times: Sequence[float], durations: Sequence[float], rate: float) -> list[int]:
    """Decoded-frame index of every output frame of a CFR conversion (for checks and tests)."""
    selector = CfrSelector(rate)
    out: list[int] = []
    for index, (time, duration) in enumerate(zip(times, durations)):
        repeats, copies = selector.step(time, duration)
        out += [out[-1] if out else index] * repeats + [index] * copies
    return out + out[-1:] * selector.finish()


def nominal_frame_indices(count: int, orig_fps: int | None, rate: int) -> list[int]:
    """The official ``frame_indices`` (nominal, not the frames actually decoded; SPEC.md 7.6)."""
    if not orig_fps:
        return list(range(count))
    return [int(round(i * orig_fps / rate)) for i in range(count)]


@dataclass(frozen=True)
class VideoProbe:
    """What the official CLI learns from ffprobe (SPEC.md 8.2); ``None`` = unknown."""

    duration: float | None
    frame_rate: int | None  # ceil(r_frame_rate)
    width: int | None
    height: int | None
    frame_count: int | None = None  # counted by decoding, only when asked for


@dataclass(frozen=True)
class SamplingPlan:
    """Score ``seconds * rate`` frames; ``orig_fps`` only sets the nominal frame indices."""

    seconds: int
    rate: int
    orig_fps: int | None
    transpose: bool

    @property
    def frames(self) -> int:
        return self.seconds * self.rate


def needs_frame_count(fps: int, batch: bool) -> bool:
    """Single mode with ``fps == -1`` takes its length from the counted frames (SPEC.md 8.3)."""
    return fps == -1 and not batch


def _known_seconds(probe: VideoProbe) -> float | None:
    if probe.duration is not None:
        return probe.duration
    if probe.frame_count and probe.frame_rate:
        return probe.frame_count / probe.frame_rate
    return None


def plan_sampling(
    probe: VideoProbe, fps: int, transpose: bool, batch: bool, min_seconds: float = 1.0
) -> SamplingPlan:
    """Seconds, rate and rotation as the official CLI chooses them, or a one-line error.

    Unlike the official CLI, a video shorter than ``min_seconds`` is rejected (upstream pads it
    with black frames, so its score would mostly describe the padding), and single mode, like
    batch mode, falls back to frame count / frame rate when the duration is unknown.
    """
    seconds = _known_seconds(probe)
    if seconds is None:
        raise VidquantError("cannot tell the video's duration")
    if seconds < min_seconds:
        raise VidquantError(f"video is shorter than {min_seconds:g} s ({seconds:.3f} s)")
    if probe.frame_rate is None and (fps == -1 or not batch):
        raise VidquantError("cannot tell the video's frame rate")
    length = math.ceil(seconds)
    rate = probe.frame_rate if fps == -1 else fps
    if rate is None or rate < 1:
        raise VidquantError(f"sampling rate must be a positive number of frames per second, got {fps}")
    if needs_frame_count(fps, batch) and probe.frame_count:
        length = math.ceil(probe.frame_count / rate)
    if batch:
        transpose = probe.width is not None and probe.height is not None and probe.width < probe.height
    return SamplingPlan(length, rate, probe.frame_rate, transpose)

