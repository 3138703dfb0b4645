"""Everything FFmpeg decodes (mp4, mkv, H.264/HEVC elementary streams) and PNG sequences, via PyAV."""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from vidquant.io.color import ColorSpec, rgb_to_frame
from vidquant.io.frame import Frame, PixelFormat, format_for_depth, read_error

# Exceptions PyAV raises for unreadable or corrupt input.
_DECODE_ERRORS = (av.error.FFmpegError, ValueError, OSError)


def _plane_array(plane, width: int, height: int, dtype: np.dtype) -> np.ndarray:
    """Copy one PyAV plane, dropping the line padding FFmpeg adds."""
    rows = np.frombuffer(memoryview(plane), dtype=dtype).reshape(-1, plane.line_size // dtype.itemsize)
    return rows[:height, :width].copy()


def _target_format(av_format: av.VideoFormat, width: int, height: int) -> PixelFormat:
    """What we keep of a decoded picture's format: its bit depth, and 4:4:4 when its chroma is
    full width and height (not RGB), else 4:2:0."""
    bits = max(c.bits for c in av_format.components)
    full = not av_format.is_rgb and len(av_format.components) >= 3 and \
        av_format.chroma_width(width) == width and av_format.chroma_height(height) == height
    return format_for_depth(bits, 0 if full else 1)


def _av_frame_to_frame(av_frame: av.VideoFrame, fmt: PixelFormat) -> Frame:
    """Decoded picture -> Frame in ``fmt`` (converted by FFmpeg when the picture is in another format)."""
    if av_frame.format.name != fmt.name:
        av_frame = av_frame.reformat(format=fmt.name)
    w, h = av_frame.width, av_frame.height
    cw, ch = fmt.chroma_size(w, h)
    y, u, v = av_frame.planes
    return Frame(
        _plane_array(y, w, h, fmt.dtype),
        _plane_array(u, cw, ch, fmt.dtype),
        _plane_array(v, cw, ch, fmt.dtype),
        fmt.bit_depth,
    )


def _open(path: Path, index: int) -> av.container.InputContainer:
    try:
        return av.open(str(path))
    except _DECODE_ERRORS as error:
        raise read_error(path, index, f"not a decodable video ({_reason(error)})") from None


def _reason(error: Exception) -> str:
    """FFmpeg's own message without the file name PyAV appends."""
    text = getattr(error, "strerror", None) or str(error)
    return text.split(": '")[0].strip()


@dataclass
class AvReader:
    """Frames of the first video stream of any container FFmpeg reads, decoded one at a time.

    4:2:0 and 4:4:4 YUV pictures keep their chroma as stored; any other format (4:2:2, RGB,
    NV12, ...) is converted by FFmpeg, and ``notes`` says so once the first frame is read."""

    path: Path
    first: int = 0
    count: int | None = None
    width: int = field(init=False)
    height: int = field(init=False)
    notes: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        with _open(self.path, 0) as container:
            if not container.streams.video:
                raise read_error(self.path, 0, "no video stream")
            context = container.streams.video[0].codec_context
            self.width, self.height = context.width, context.height

    def __iter__(self) -> Iterator[Frame]:
        last = None if self.count is None else self.first + self.count
        with _open(self.path, 0) as container:
            decoded = container.decode(video=0)
            index = 0
            while last is None or index < last:
                try:
                    av_frame = next(decoded)
                except StopIteration:
                    return
                except _DECODE_ERRORS as error:
                    raise read_error(self.path, index, f"corrupt data ({_reason(error)})") from None
                if index >= self.first:
                    fmt = _target_format(av_frame.format, av_frame.width, av_frame.height)
                    if av_frame.format.name != fmt.name and not self.notes:
                        self.notes.append(f"{self.path.name}: {av_frame.format.name} converted to {fmt.name} "
                                          "by FFmpeg; metrics are of the converted planes")
                    yield _av_frame_to_frame(av_frame, fmt)
                index += 1


def png_files(pattern: Path) -> list[Path]:
    """A folder (all ``*.png``, sorted), a printf pattern (``im%05d.png``), a glob (``im*.png``) or one file."""
    if pattern.is_dir():
        return sorted(pattern.glob("*.png"))
    text = str(pattern)
    if "%" in text:
        text = re.sub(r"%0?\d*d", "*", text)
    return sorted(Path(p) for p in glob.glob(text))


def read_png(path: Path, index: int, spec: ColorSpec) -> Frame:
    """One PNG (8 or 16 bit, any colour type) -> Frame with its RGB kept."""
    with _open(path, index) as container:
        try:
            av_frame = next(container.decode(video=0))
        except (StopIteration, *_DECODE_ERRORS) as error:
            raise read_error(path, index, f"corrupt PNG ({_reason(error)})") from None
    bits = max(c.bits for c in av_frame.format.components)
    rgb = av_frame.to_ndarray(format="rgb48le" if bits > 8 else "rgb24")
    return rgb_to_frame(rgb, 16 if bits > 8 else 8, spec)


@dataclass
class PngSequenceReader:
    """Frames from numbered PNG files, converted RGB -> YUV 4:2:0 with ``spec`` (DCVC: BT.709 full)."""

    pattern: Path
    first: int = 0
    count: int | None = None
    spec: ColorSpec = ColorSpec("bt709", full_range=True)
    files: list[Path] = field(init=False)

    def __post_init__(self) -> None:
        self.files = png_files(self.pattern)
        if not self.files:
            raise read_error(self.pattern, 0, "no PNG files match")

    def __iter__(self) -> Iterator[Frame]:
        last = None if self.count is None else self.first + self.count
        for index, path in enumerate(self.files[self.first:last], start=self.first):
            yield read_png(path, index, self.spec)
