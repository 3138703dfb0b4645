"""Lossless video files through PyAV: FFV1 in Matroska (``.mkv``), planes written as given."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidquant.errors import VidquantError
from vidquant.io.frame import Frame, format_for_depth


class FfV1Writer:
    """Writes frames as FFV1 (lossless) in a Matroska file, in the frames' own pixel format
    (4:2:0 or, with ``chroma_shift`` 0, 4:4:4; 16-bit LE planes above 8 bit)."""

    def __init__(self, path: str | Path, width: int, height: int, bit_depth: int = 8, fps: str = "25:1",
                 chroma_shift: int = 1) -> None:
        self.path = Path(path)
        self.fmt = format_for_depth(bit_depth, chroma_shift)
        self.width, self.height = width, height
        self._container = av.open(str(self.path), "w", format="matroska")
        self._stream = self._container.add_stream("ffv1", rate=Fraction(fps.replace(":", "/")))
        self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, self.fmt.name
        self.frames_written = 0

    def write(self, frame: Frame) -> None:
        if (frame.width, frame.height) != (self.width, self.height):
            raise VidquantError(f"{self.path}: frame {self.frames_written} is {frame.width}x{frame.height}, "
                                f"the file is {self.width}x{self.height}")
        if frame.u.shape[::-1] != self.fmt.chroma_size(frame.width, frame.height):
            raise VidquantError(f"cannot write a {frame.fmt.chroma} frame as {self.fmt.name}")
        picture = av.VideoFrame(self.width, self.height, self.fmt.name)
        for plane, samples in zip(picture.planes, frame.planes):
            _fill_plane(plane, np.ascontiguousarray(samples, dtype=self.fmt.dtype))
        picture.pts = self.frames_written
        self._container.mux(self._stream.encode(picture))
        self.frames_written += 1

    def close(self) -> None:
        self._container.mux(self._stream.encode())
        self._container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _fill_plane(plane, samples: np.ndarray) -> None:
    """Copy ``samples`` into a PyAV plane, row by row past FFmpeg's line padding."""
    rows = np.frombuffer(memoryview(plane), dtype=samples.dtype).reshape(-1, plane.line_size // samples.itemsize)
    rows[: samples.shape[0], : samples.shape[1]] = samples
