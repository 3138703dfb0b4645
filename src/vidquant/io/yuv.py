"""Raw planar YUV 4:2:0 / 4:4:4 and Y4M: streaming readers and writers (8-bit, and 16-bit LE above 8 bit)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from vidquant.errors import VidquantError
from vidquant.io.frame import Frame, PixelFormat, format_for_depth, pixel_format, read_error
from vidquant.io.output_path import VIDEO_OUTPUT_SUFFIXES, check_output_path

# Y4M colour-space tags -> our pixel format names (4:2:0 and 4:4:4; chroma siting is not modelled).
Y4M_TAGS: dict[str, str] = {
    "420jpeg": "yuv420p",
    "420": "yuv420p",
    "420mpeg2": "yuv420p",
    "420paldv": "yuv420p",
    "420p10": "yuv420p10le",
    "420p12": "yuv420p12le",
    "420p16": "yuv420p16le",
    "444": "yuv444p",
    "444p10": "yuv444p10le",
    "444p12": "yuv444p12le",
    "444p16": "yuv444p16le",
}
Y4M_TAG_FOR_FORMAT: dict[str, str] = {"yuv420p": "420jpeg", "yuv420p10le": "420p10", "yuv420p12le": "420p12",
                                      "yuv420p16le": "420p16", "yuv444p": "444", "yuv444p10le": "444p10",
                                      "yuv444p12le": "444p12", "yuv444p16le": "444p16"}
_MAX_HEADER = 1024


def unpack_frame(data: bytes, width: int, height: int, fmt: PixelFormat) -> Frame:
    """One stored frame (Y, U, V back to back) -> Frame; arrays are copies (no buffer aliasing)."""
    samples = np.frombuffer(data, dtype=fmt.dtype)
    cw, ch = fmt.chroma_size(width, height)
    y_end = width * height
    u_end = y_end + cw * ch
    return Frame(
        samples[:y_end].reshape(height, width).copy(),
        samples[y_end:u_end].reshape(ch, cw).copy(),
        samples[u_end:].reshape(ch, cw).copy(),
        fmt.bit_depth,
    )


def pack_frame(frame: Frame, fmt: PixelFormat) -> bytes:
    """Frame -> stored bytes in ``fmt`` (the frame's bit depth must fit the format's, its chroma
    planes must have the format's size)."""
    if frame.bit_depth > fmt.bit_depth:
        raise VidquantError(f"cannot write a {frame.bit_depth}-bit frame as {fmt.name}")
    if frame.u.shape[::-1] != fmt.chroma_size(frame.width, frame.height):
        raise VidquantError(f"cannot write a {frame.fmt.chroma} frame as {fmt.name}")
    return b"".join(np.ascontiguousarray(p, dtype=fmt.dtype).tobytes() for p in frame.planes)


@dataclass
class RawYuvReader:
    """Frames of a headerless planar 4:2:0 or 4:4:4 file; the size must be given (flag or
    ``_WxH`` in the name)."""

    path: Path
    width: int
    height: int
    fmt: PixelFormat
    first: int = 0
    count: int | None = None
    frame_count: int = field(init=False)

    def __post_init__(self) -> None:
        frame_bytes = self.fmt.frame_bytes(self.width, self.height)
        size = self.path.stat().st_size
        if size % frame_bytes:
            raise read_error(
                self.path, size // frame_bytes,
                f"file size {size} bytes is not a whole number of frames "
                f"({self.width}x{self.height} {self.fmt.name} frames are {frame_bytes} bytes each)",
            )
        self.frame_count = _selected(self.path, size // frame_bytes, self.first, self.count)

    def __iter__(self) -> Iterator[Frame]:
        frame_bytes = self.fmt.frame_bytes(self.width, self.height)
        with self.path.open("rb") as stream:
            stream.seek(self.first * frame_bytes)
            for index in range(self.first, self.first + self.frame_count):
                data = _read_exact(stream, frame_bytes, self.path, index)
                yield unpack_frame(data, self.width, self.height, self.fmt)


def _selected(path: Path, total: int, first: int, count: int | None) -> int:
    """How many frames a [first, first+count) selection yields out of ``total``."""
    if first < 0 or (count is not None and count < 0):
        raise VidquantError(f"frame range first={first} count={count} must not be negative")
    if first >= total and total > 0:
        raise read_error(path, first, f"the video has only {total} frames")
    available = max(total - first, 0)
    return available if count is None else min(count, available)


def _read_exact(stream: BinaryIO, size: int, path: Path, index: int) -> bytes:
    """``size`` bytes, or a truncation error; a size beyond the file's end is refused before
    reading (a corrupted header must not make ``read`` allocate its claimed frame size)."""
    left = os.fstat(stream.fileno()).st_size - stream.tell()
    if size > left:
        raise read_error(path, index, f"truncated frame: expected {size} bytes, got {max(left, 0)}")
    data = stream.read(size)
    if len(data) != size:
        raise read_error(path, index, f"truncated frame: expected {size} bytes, got {len(data)}")
    return data


@dataclass(frozen=True)
class Y4mHeader:
    width: int
    height: int
    fmt: PixelFormat
    fps: str = "25:1"

    @classmethod
    def parse(cls, line: bytes, path: Path) -> "Y4mHeader":
        """Parse ``YUV4MPEG2 W.. H.. F.. C..``; an unknown C tag is an unknown pixel format."""
        words = line.decode("ascii", errors="replace").split()
        if not words or words[0] != "YUV4MPEG2":
            raise read_error(path, 0, "not a Y4M file (no YUV4MPEG2 signature)")
        params = {w[0]: w[1:] for w in words[1:] if w}
        if "W" not in params or "H" not in params:
            raise read_error(path, 0, "Y4M header has no W or H")
        tag = params.get("C", "420jpeg")
        if tag not in Y4M_TAGS:
            known = ", ".join(f"C{name}" for name in Y4M_TAGS)
            raise read_error(path, 0, f"unknown pixel format 'C{tag}' (supported: {known})")
        if not (params["W"].isdigit() and params["H"].isdigit()) or int(params["W"]) == 0 or int(params["H"]) == 0:
            raise read_error(path, 0, f"bad Y4M frame size W{params['W']} H{params['H']}")
        return cls(int(params["W"]), int(params["H"]), pixel_format(Y4M_TAGS[tag], path), params.get("F", "25:1"))

    def line(self) -> bytes:
        tag = Y4M_TAG_FOR_FORMAT[self.fmt.name]
        extra = f" XYSCSS={tag.upper()}" if self.fmt.bit_depth > 8 else ""
        return f"YUV4MPEG2 W{self.width} H{self.height} F{self.fps} Ip A1:1 C{tag}{extra}\n".encode("ascii")


@dataclass
class Y4mReader:
    """Frames of a Y4M file, read one ``FRAME`` at a time; a bad frame header names its index."""

    path: Path
    first: int = 0
    count: int | None = None
    header: Y4mHeader = field(init=False)

    def __post_init__(self) -> None:
        with self.path.open("rb") as stream:
            self.header = Y4mHeader.parse(stream.readline(_MAX_HEADER), self.path)

    @property
    def width(self) -> int:
        return self.header.width

    @property
    def height(self) -> int:
        return self.header.height

    @property
    def fmt(self) -> PixelFormat:
        return self.header.fmt

    def __iter__(self) -> Iterator[Frame]:
        frame_bytes = self.fmt.frame_bytes(self.width, self.height)
        last = None if self.count is None else self.first + self.count
        with self.path.open("rb") as stream:
            stream.readline(_MAX_HEADER)
            index = 0
            while last is None or index < last:
                marker = stream.readline(_MAX_HEADER)
                if not marker:
                    return
                if not marker.startswith(b"FRAME"):
                    raise read_error(self.path, index, f"bad Y4M frame header {marker[:16]!r}")
                if index < self.first:
                    stream.seek(frame_bytes, 1)
                else:
                    data = _read_exact(stream, frame_bytes, self.path, index)
                    yield unpack_frame(data, self.width, self.height, self.fmt)
                index += 1


class _Writer:
    """Shared plumbing: the file opens at construction and closes on ``close()`` or leaving ``with``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stream: BinaryIO = self.path.open("wb")
        self.frames_written = 0

    def close(self) -> None:
        self._stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class RawYuvWriter(_Writer):
    """Writes frames back to back (planar 4:2:0, or 4:4:4 with ``chroma_shift`` 0; 16-bit LE
    samples above 8 bit)."""

    def __init__(self, path: str | Path, bit_depth: int = 8, chroma_shift: int = 1) -> None:
        super().__init__(path)
        self.fmt = format_for_depth(bit_depth, chroma_shift)

    def write(self, frame: Frame) -> None:
        self._stream.write(pack_frame(frame, self.fmt))
        self.frames_written += 1


class Y4mWriter(_Writer):
    """Writes a Y4M header (C420jpeg, C420p10/12/16, or C444/C444p10/12/16 with ``chroma_shift``
    0) then ``FRAME`` + planes per frame."""

    def __init__(self, path: str | Path, width: int, height: int, bit_depth: int = 8, fps: str = "25:1",
                 chroma_shift: int = 1) -> None:
        super().__init__(path)
        self.header = Y4mHeader(width, height, format_for_depth(bit_depth, chroma_shift), fps)
        self._stream.write(self.header.line())

    def write(self, frame: Frame) -> None:
        if (frame.width, frame.height) != (self.header.width, self.header.height):
            raise VidquantError(
                f"{self.path}: frame {self.frames_written} is {frame.width}x{frame.height}, "
                f"the file is {self.header.width}x{self.header.height}"
            )
        self._stream.write(b"FRAME\n" + pack_frame(frame, self.header.fmt))
        self.frames_written += 1


def open_writer(path: str | Path, width: int, height: int, bit_depth: int = 8, fps: str = "25:1",
                chroma_shift: int = 1):
    """Y4M writer for ``.y4m``, raw planar writer for ``.yuv`` (16-bit LE samples above 8 bit;
    4:2:0, or 4:4:4 with ``chroma_shift`` 0), lossless FFV1 for ``.mkv``; any other name is a
    one-line error (a ``.mp4`` must not receive raw samples)."""
    path = check_output_path(path, VIDEO_OUTPUT_SUFFIXES, "video")
    if path.suffix.lower() == ".y4m":
        return Y4mWriter(path, width, height, bit_depth, fps, chroma_shift)
    if path.suffix.lower() == ".mkv":
        from vidquant.io.av_writer import FfV1Writer

        return FfV1Writer(path, width, height, bit_depth, fps, chroma_shift)
    return RawYuvWriter(path, bit_depth, chroma_shift)
