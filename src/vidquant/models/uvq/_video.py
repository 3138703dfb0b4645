"""Private PyAV decoding for UVQ: probe a file and yield the frames ffmpeg's CLI would sample.

Reproduces the official reader's ffmpeg call (SPEC.md 7.1-7.2): the CLI's auto-rotation by the
display matrix, [transpose=2], bicubic stretch to 1920x1080, rgb24, then constant-frame-rate
selection. Kept small and private so it can be replaced by ``vidquant.io`` readers.
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
    """Container duration, ceil(frame rate), coded size and the decoded frame count (when asked,
    or when the container does not state a duration, e.g. raw .264 streams).

    The rate is ffmpeg's guess: r_frame_rate, or the average rate where r_frame_rate is a
    time-base artefact (raw H.264 reports 1200000)."""
    with _opened(path) as container:
        stream = container.streams.video[0]
        rate = stream.guessed_rate or stream.base_rate
        duration = container.duration / av.time_base if container.duration else None
        count = sum(1 for _ in container.decode(stream)) if count_frames or duration is None else None
        return VideoProbe(
            duration=duration,
            frame_rate=math.ceil(rate) if rate else None,
            width=stream.codec_context.width or None,
            height=stream.codec_context.height or None,
            frame_count=count or None,
        )


# The ffmpeg CLI's auto-rotation, by the display matrix's counter-clockwise angle (flips ignored).
_AUTOROTATE: dict[int, tuple[tuple[str, str | None], ...]] = {
    90: (("transpose", "cclock"),),
    -90: (("transpose", "clock"),),
    180: (("hflip", None), ("vflip", None)),
    -180: (("hflip", None), ("vflip", None)),
}


def filter_chain(rotation: int, transpose: bool, height: int, width: int) -> list[tuple[str, str | None]]:
    """[auto-rotation], [rotate 90 deg counter-clockwise], bicubic stretch, rgb24 (SPEC.md 7.1)."""
    chain = list(_AUTOROTATE.get(rotation, ()))
    if transpose:
        chain.append(("transpose", "2"))
    return chain + [("scale", f"{width}:{height}:flags=bicubic"), ("format", "rgb24")]


def _rgb_graph(stream: av.video.stream.VideoStream, chain: list[tuple[str, str | None]]) -> av.filter.Graph:
    graph = av.filter.Graph()
    nodes = [graph.add_buffer(template=stream)]
    nodes += [graph.add(name, args) for name, args in chain]
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
        graph: av.filter.Graph | None = None
        selector = CfrSelector(plan.rate)
        fallback_rate = _nominal_rate(stream)
        last: np.ndarray | None = None
        for index, frame in enumerate(container.decode(stream)):
            repeats, copies = selector.step(*_seconds(frame, index, fallback_rate))
            if last is not None:
                yield from [last] * repeats
            if copies:
                if graph is None:  # the first frame carries the display matrix
                    chain = filter_chain(round(frame.rotation), plan.transpose, height, width)
                    graph = _rgb_graph(stream, chain)
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
