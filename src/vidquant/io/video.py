"""``open_video``: one entry point that picks the reader by extension or content."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Protocol

from vidquant.io.av_reader import AvReader, PngSequenceReader
from vidquant.io.color import ColorSpec
from vidquant.io.frame import Frame, raw_pixel_format, raw_size, read_error
from vidquant.io.yuv import RawYuvReader, Y4mReader, open_writer  # noqa: F401 (open_writer: re-exported)

RAW_EXTENSIONS = (".yuv", ".raw", ".i420")


class VideoReader(Protocol):
    """What every reader offers: frame size and a streaming iterator of Frames."""

    path: Path
    width: int
    height: int

    def __iter__(self) -> Iterator[Frame]: ...


def _is_png_source(path: Path) -> bool:
    """A folder, a ``.png`` file, or a numbered/glob ``.png`` pattern."""
    return path.is_dir() or path.suffix.lower() == ".png"


def _is_y4m(path: Path) -> bool:
    if path.suffix.lower() == ".y4m":
        return True
    with path.open("rb") as stream:
        return stream.read(9) == b"YUV4MPEG2"


def open_video(
    path: str | Path,
    size: tuple[int, int] | str | None = None,
    first: int = 0,
    count: int | None = None,
    pix_fmt: str | None = None,
    color: ColorSpec | None = None,
) -> VideoReader:
    """Reader for ``path``: raw .yuv (``size`` or ``_WxH`` in the name; ``pix_fmt`` e.g.
    ``yuv420p10le`` or ``yuv444p``, else the format the name states, else ``yuv420p``; a flag
    contradicting the name is an error), .y4m, a PNG folder/pattern, or anything PyAV decodes.

    Frames are decoded lazily, ``first`` frames skipped and at most ``count`` yielded.
    """
    path = Path(path)
    if _is_png_source(path):
        return PngSequenceReader(path, first, count, color or ColorSpec("bt709", full_range=True))
    if not path.exists():
        raise read_error(path, first, "no such file")
    if path.suffix.lower() in RAW_EXTENSIONS:
        width, height = raw_size(path, size)
        return RawYuvReader(path, width, height, raw_pixel_format(path, pix_fmt, first), first, count)
    if _is_y4m(path):
        return Y4mReader(path, first, count)
    return AvReader(path, first, count)
