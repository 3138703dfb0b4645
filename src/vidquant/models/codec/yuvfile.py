"""Raw I420 file access for the codec commands.

TEMPORARY: replace with ``vidquant.io`` (video readers) once that branch is merged; the
codec only needs "frames of (Y, U, V) uint8 planes" and "write I420 / Y4M".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np

from vidquant.errors import VidquantError

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]
_SIZE = re.compile(r"(\d+)x(\d+)")


def size_from_name(path: str | Path) -> tuple[int, int]:
    """(width, height) from a name like ``foreman_352x288_8f.yuv``."""
    match = _SIZE.search(Path(path).name)
    if not match:
        raise VidquantError(f"cannot tell the picture size of {path}: name it *_WxH_*.yuv or pass --size WxH")
    return int(match.group(1)), int(match.group(2))


def read_yuv420(path: str | Path, width: int, height: int, max_frames: int | None = None) -> Iterator[Planes]:
    """Frames of an 8-bit I420 file (replace with vidquant.io at merge)."""
    path = Path(path)
    if not path.is_file():
        raise VidquantError(f"video {path} does not exist")
    if width % 2 or height % 2:
        raise VidquantError(f"I420 needs even width and height, got {width}x{height}")
    frame_bytes = width * height * 3 // 2
    count = path.stat().st_size // frame_bytes
    if count == 0:
        raise VidquantError(f"{path} is shorter than one {width}x{height} I420 frame")
    data = np.memmap(path, dtype=np.uint8, mode="r")
    for index in range(count if max_frames is None else min(count, max_frames)):
        frame = np.array(data[index * frame_bytes : (index + 1) * frame_bytes])
        luma = frame[: width * height].reshape(height, width)
        chroma = frame[width * height :].reshape(2, height // 2, width // 2)
        yield luma, chroma[0], chroma[1]


def write_video(path: str | Path, frames: list[Planes], fps: int = 30) -> None:
    """Write I420 planes as raw .yuv, or as .y4m when the name ends in .y4m."""
    path = Path(path)
    with path.open("wb") as out:
        if path.suffix == ".y4m" and frames:
            height, width = frames[0][0].shape
            out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for planes in frames:
            if path.suffix == ".y4m":
                out.write(b"FRAME\n")
            for plane in planes:
                out.write(np.ascontiguousarray(plane, dtype=np.uint8).tobytes())


def read_video(path: str | Path, size: tuple[int, int] | None = None, max_frames: int | None = None) -> Iterator[Planes]:
    """Frames of a .yuv (I420) or any PyAV-decodable file (.264, .mp4) as I420 planes."""
    path = Path(path)
    if path.suffix == ".yuv":
        width, height = size or size_from_name(path)
        yield from read_yuv420(path, width, height, max_frames)
        return
    import av

    if not path.is_file():
        raise VidquantError(f"video {path} does not exist")
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if max_frames is not None and index >= max_frames:
                break
            planes = frame.reformat(format="yuv420p").to_ndarray()  # [h * 3 / 2, w]
            height, width = frame.height, frame.width
            luma = planes[:height]
            chroma = planes[height:].reshape(2, height // 2, width // 2)
            yield luma, chroma[0], chroma[1]
