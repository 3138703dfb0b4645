"""I420 pictures for the codec, read and written through ``vidquant.io``.

The codec works on 8-bit 4:2:0 pictures as (Y, U, V) uint8 arrays with even width and height
(other formats are converted on reading, with a note);
``vidquant.io`` owns the file formats (raw .yuv, .y4m, PNG, anything PyAV decodes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from vidquant.errors import VidquantError
from vidquant.io.color import to_yuv420p
from vidquant.io.frame import Frame
from vidquant.io.video import open_video, open_writer

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]


def read_video(path: str | Path, size: tuple[int, int] | str | None = None, max_frames: int | None = None,
               pix_fmt: str | None = None, note: Callable[[str], None] | None = None) -> Iterator[Planes]:
    """Frames of a .yuv (``size`` or ``_WxH`` in the name; ``pix_fmt`` or the format the name
    states, else yuv420p), .y4m or PyAV-decodable file (.264, .mp4) as 8-bit I420 planes.

    Other bit depths and 4:4:4 are converted to 8-bit 4:2:0 (``vidquant.io.color.to_yuv420p``)
    and ``note`` is called once saying so; without ``note`` such input is an error."""
    reader = open_video(path, size=size, count=max_frames, pix_fmt=pix_fmt)
    for index, frame in enumerate(reader):
        if frame.fmt.name != "yuv420p":
            if note is None:
                raise VidquantError(f"{path}: the codec takes 8-bit 4:2:0 video, this one is {frame.fmt.name}")
            if index == 0:
                note(f"{path}: {frame.fmt.name} converted to 8-bit 4:2:0 (yuv420p), the format the codec codes")
            frame = to_yuv420p(frame)
        if frame.width % 2 or frame.height % 2:
            raise VidquantError(f"{path}: I420 needs even width and height, got {frame.width}x{frame.height}")
        yield frame.planes


def read_yuv420(path: str | Path, width: int, height: int, max_frames: int | None = None) -> Iterator[Planes]:
    """Frames of an 8-bit I420 file of the given size."""
    return read_video(path, (width, height), max_frames)


def write_video(path: str | Path, frames: list[Planes], fps: int = 30) -> None:
    """Write I420 planes as raw .yuv, or as .y4m when the name ends in .y4m."""
    height, width = frames[0][0].shape if frames else (0, 0)
    with open_writer(path, width, height, bit_depth=8, fps=f"{fps}:1") as writer:
        for planes in frames:
            writer.write(Frame(*planes))
