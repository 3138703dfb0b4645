"""Timed PyAV decoding, for pipelines that must reproduce what the ffmpeg CLI hands them.

``AvReader`` (av_reader.py) yields pictures as 4:2:0 ``Frame`` values; pipelines that replay an
``ffmpeg`` command line (UVQ's official reader) also need what the CLI itself uses: the
container's duration and guessed frame rate, each frame's timestamp and duration, the display
matrix (the CLI rotates by it), and conversions through an ffmpeg filter graph built from the
stream. Errors are one line without the path (callers prefix it): ``no such video file``,
``the file has no video stream``, ``cannot read the video: REASON``.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Sequence

import av
import numpy as np

from vidquant.errors import VidquantError

Filters = Sequence[tuple[str, "str | None"]]

# The ffmpeg CLI's auto-rotation, by the display matrix's counter-clockwise angle (flips ignored).
_AUTOROTATE: dict[int, tuple[tuple[str, str | None], ...]] = {
    90: (("transpose", "cclock"),),
    -90: (("transpose", "clock"),),
    180: (("hflip", None), ("vflip", None)),
    -180: (("hflip", None), ("vflip", None)),
}


def autorotate_filters(rotation: int) -> list[tuple[str, str | None]]:
    """The filters the ffmpeg CLI inserts for a display matrix rotated by ``rotation`` degrees."""
    return list(_AUTOROTATE.get(rotation, ()))


@dataclass(frozen=True)
class VideoInfo:
    """What the container says of its first video stream; ``None`` = unknown."""

    duration: float | None  # seconds
    frame_rate: Fraction | None  # ffmpeg's guess (see probe_video)
    width: int | None
    height: int | None
    frame_count: int | None = None  # counted by decoding, only when asked for


@dataclass(frozen=True)
class TimedFrame:
    """One decoded picture with its timestamp and duration in seconds and display rotation."""

    frame: av.VideoFrame
    time: float
    duration: float

    @property
    def rotation(self) -> int:
        return round(self.frame.rotation)


@contextmanager
def _opened(path: Path) -> Iterator[av.container.InputContainer]:
    """Open ``path`` and turn every decoder failure into a one-line VidquantError."""
    if not Path(path).is_file():
        raise VidquantError("no such video file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VidquantError("the file has no video stream")
            yield container
    except (av.FFmpegError, OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise VidquantError(f"cannot read the video: {reason}") from None


def probe_video(path: str | Path, count_frames: bool = False) -> VideoInfo:
    """Duration, frame rate, coded size and the decoded frame count (when asked, or when the
    container does not state a duration, e.g. raw .264 streams).

    The rate is ffmpeg's guess: r_frame_rate, or the average rate where r_frame_rate is a
    time-base artefact (raw H.264 reports 1200000)."""
    with _opened(Path(path)) as container:
        stream = container.streams.video[0]
        rate = stream.guessed_rate or stream.base_rate
        duration = container.duration / av.time_base if container.duration else None
        count = sum(1 for _ in container.decode(stream)) if count_frames or duration is None else None
        return VideoInfo(
            duration=duration,
            frame_rate=rate or None,
            width=stream.codec_context.width or None,
            height=stream.codec_context.height or None,
            frame_count=count or None,
        )


class TimedFrames:
    """The decoded frames of ``path``'s first video stream in decoding order, with times.

    Use as a context manager; ``convert`` sends a frame through an ffmpeg filter graph built
    (once, at its first call) from the stream and ``filters``, ending in a numpy array.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._context = _opened(self.path)
        self._graph: av.filter.Graph | None = None

    def __enter__(self) -> TimedFrames:
        self._container = self._context.__enter__()
        self._stream = self._container.streams.video[0]
        return self

    def __exit__(self, *exc_info) -> bool | None:
        return self._context.__exit__(*exc_info)

    @property
    def nominal_rate(self) -> float:
        """Frames per second assumed for frames without timestamps or durations."""
        return float(self._stream.average_rate or self._stream.base_rate or 1)

    def __iter__(self) -> Iterator[TimedFrame]:
        rate = self.nominal_rate
        for index, frame in enumerate(self._container.decode(self._stream)):
            time = frame.time if frame.time is not None else index / rate
            duration = float(frame.duration * frame.time_base) if frame.duration else 1.0 / rate
            yield TimedFrame(frame, time, duration)

    def convert(self, frame: TimedFrame, filters: Filters) -> np.ndarray:
        """``frame`` through the filter graph (``filters`` are used when the graph is built)."""
        if self._graph is None:
            graph = av.filter.Graph()
            nodes = [graph.add_buffer(template=self._stream)]
            nodes += [graph.add(name, args) for name, args in filters]
            nodes.append(graph.add("buffersink"))
            graph.link_nodes(*nodes).configure()
            self._graph = graph
        self._graph.vpush(frame.frame)
        return self._graph.vpull().to_ndarray()


def frame_times(path: str | Path) -> list[tuple[float, float]]:
    """(timestamp, duration) in seconds of every decoded frame, in decoding order."""
    with TimedFrames(path) as frames:
        return [(frame.time, frame.duration) for frame in frames]
