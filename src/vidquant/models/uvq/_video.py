"""Private PyAV decoding for UVQ: probe a file and yield the frames ffmpeg's CLI would sample.

Reproduces the official reader's ffmpeg call (SPEC.md 7.1-7.2): [transpose=2], bicubic stretch
to 1920x1080, rgb24, then constant-frame-rate selection. Kept small and private so it can be
replaced by ``vidquant.io`` readers; rotation metadata is not applied (PyAV does not either).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from vidquant.errors import VidquantError
from vidquant.models.uvq.sampling import CfrSelector, SamplingPlan, VideoProbe


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


def probe_video(path: Path, count_frames: bool = False) -> VideoProbe:
    """Container duration, ceil(r_frame_rate), coded size and (if asked) the decoded frame count."""
    with _opened(path) as container:
        stream = container.streams.video[0]
        rate = stream.base_rate
        count = sum(1 for _ in container.decode(stream)) if count_frames else None
        return VideoProbe(
            duration=container.duration / av.time_base if container.duration else None,
            frame_rate=math.ceil(rate) if rate else None,
            width=stream.codec_context.width or None,
            height=stream.codec_context.height or None,
            frame_count=count or None,
        )


def _rgb_graph(stream: av.video.stream.VideoStream, transpose: bool, height: int, width: int):
    """The official filter chain: [rotate 90 deg counter-clockwise], stretch (bicubic), rgb24."""
    graph = av.filter.Graph()
    nodes = [graph.add_buffer(template=stream)]
    if transpose:
        nodes.append(graph.add("transpose", "2"))
    nodes.append(graph.add("scale", f"{width}:{height}:flags=bicubic"))
    nodes.append(graph.add("format", "rgb24"))
    nodes.append(graph.add("buffersink"))
    graph.link_nodes(*nodes).configure()
    return graph


def _nominal_rate(stream: av.video.stream.VideoStream) -> float:
    """Frames per second to assume for frames without timestamps or durations."""
    return float(stream.average_rate or stream.base_rate or 1)


def _seconds(frame: av.VideoFrame, index: int, fallback_rate: float) -> tuple[float, float]:
    """(timestamp, duration) of a decoded frame, from nominal rate where the stream has none."""
    time = frame.time if frame.time is not None else index / fallback_rate
    duration = float(frame.duration * frame.time_base) if frame.duration else 1.0 / fallback_rate
    return time, duration


def read_sampled_frames(path: Path, plan: SamplingPlan, height: int, width: int) -> Iterator[np.ndarray]:
    """The RGB24 frames (height, width, 3) uint8 of a ``-r plan.rate`` conversion, in order."""
    with _opened(path) as container:
        stream = container.streams.video[0]
        graph = _rgb_graph(stream, plan.transpose, height, width)
        selector = CfrSelector(plan.rate)
        fallback_rate = _nominal_rate(stream)
        last: np.ndarray | None = None
        for index, frame in enumerate(container.decode(stream)):
            repeats, copies = selector.step(*_seconds(frame, index, fallback_rate))
            if last is not None:
                yield from [last] * repeats
            if copies:
                graph.vpush(frame)
                last = graph.vpull().to_ndarray()
                yield from [last] * copies
        if last is not None:
            yield from [last] * selector.finish()


def frame_times(path: Path) -> list[tuple[float, float]]:
    """(timestamp, duration) in seconds of every decoded frame, in decoding order."""
    with _opened(path) as container:
        stream = container.streams.video[0]
        rate = _nominal_rate(stream)
        return [_seconds(frame, index, rate) for index, frame in enumerate(container.decode(stream))]
