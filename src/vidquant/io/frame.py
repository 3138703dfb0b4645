"""One decoded picture as planar YUV 4:2:0 or 4:4:4 numpy arrays, plus the pixel formats we read and write."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vidquant.errors import VidquantError

if TYPE_CHECKING:  # torch only where tensors are asked for: the deployed decoder writes frames without it
    import torch


@dataclass(frozen=True)
class PixelFormat:
    """A planar sample layout: bit depth, bytes per stored sample (little endian) and chroma
    subsampling (``chroma_shift`` 1: 4:2:0, half width and height; 0: 4:4:4, full size)."""

    name: str
    bit_depth: int
    chroma_shift: int = 1

    @property
    def chroma(self) -> str:
        return "4:2:0" if self.chroma_shift else "4:4:4"

    def chroma_size(self, width: int, height: int) -> tuple[int, int]:
        """Width and height of each chroma plane."""
        step = 1 << self.chroma_shift
        return -(-width // step), -(-height // step)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8) if self.bit_depth <= 8 else np.dtype("<u2")

    def frame_bytes(self, width: int, height: int) -> int:
        """Bytes of one stored frame: Y plus two chroma planes."""
        cw, ch = self.chroma_size(width, height)
        return (width * height + 2 * cw * ch) * self.dtype.itemsize


PIXEL_FORMATS: dict[str, PixelFormat] = {
    fmt.name: fmt
    for fmt in (
        PixelFormat("yuv420p", 8),
        PixelFormat("yuv420p10le", 10),
        PixelFormat("yuv420p12le", 12),
        PixelFormat("yuv420p16le", 16),
        PixelFormat("yuv444p", 8, 0),
        PixelFormat("yuv444p10le", 10, 0),
        PixelFormat("yuv444p12le", 12, 0),
        PixelFormat("yuv444p16le", 16, 0),
    )
}


def read_error(path: str | Path, index: int, reason: str) -> VidquantError:
    """The one shape of every read failure: which file, which frame, what went wrong."""
    return VidquantError(f"cannot read {path} at frame {index}: {reason}")


def pixel_format(name: str, path: str | Path = "<input>", index: int = 0) -> PixelFormat:
    """Look up a pixel format by its FFmpeg-style name; unknown names fail in one line."""
    try:
        return PIXEL_FORMATS[name]
    except KeyError:
        known = ", ".join(PIXEL_FORMATS)
        raise read_error(path, index, f"unknown pixel format {name!r} (supported: {known})") from None


def format_for_depth(bit_depth: int, chroma_shift: int = 1) -> PixelFormat:
    """The 4:2:0 (``chroma_shift`` 0: 4:4:4) format that stores ``bit_depth`` samples without loss."""
    for fmt in PIXEL_FORMATS.values():
        if fmt.bit_depth >= bit_depth and fmt.chroma_shift == chroma_shift:
            return fmt
    raise VidquantError(f"bit depth {bit_depth} is above 16")


_SIZE_IN_NAME = re.compile(r"(?:^|[_\-.])(\d+)x(\d+)(?=$|[_\-.])")


# Raw sample formats a file name may state that no reader here takes (refused, never read as 4:2:0).
UNSUPPORTED_FORMAT_NAMES = ("yuv422p", "yuv422p10le", "yuv422p12le", "yuv422p16le", "yuv411p", "yuv410p",
                            "nv12", "nv21", "p010le", "rgb24", "bgr24", "gray", "gray10le")


def pix_fmt_from_name(path: str | Path) -> str | None:
    """The raw sample format a file name states as a ``_``/``-``/``.``-separated word
    (``clip_1920x1080_yuv420p10le.yuv`` -> ``yuv420p10le``), if any; a stated format that no
    reader here takes is an error, so such a file is never read as 8-bit 4:2:0."""
    words = set(re.split(r"[_\-.]", Path(path).stem.lower()))
    for name in UNSUPPORTED_FORMAT_NAMES:
        if name in words:
            raise read_error(path, 0, f"pixel format {name} (from the file name) is not supported "
                                      f"(supported: {', '.join(PIXEL_FORMATS)})")
    found = [name for name in PIXEL_FORMATS if name in words]
    return found[0] if len(found) == 1 else None


def raw_pixel_format(path: str | Path, flag: str | None, first: int = 0) -> PixelFormat:
    """The format of a raw file: the flag, else the name, else ``yuv420p``; a flag that
    contradicts the name is an error."""
    named = pix_fmt_from_name(path)
    if flag is not None and named is not None and flag != named:
        raise read_error(path, first, f"--pix-fmt {flag} contradicts the {named} in the file name")
    return pixel_format(flag or named or "yuv420p", path, first)


def size_from_name(path: str | Path) -> tuple[int, int] | None:
    """Width and height from a ``_WxH`` part of the file name (``park_160x90_48f.yuv``), if any."""
    match = _SIZE_IN_NAME.search(Path(path).stem)
    return (int(match.group(1)), int(match.group(2))) if match else None


def raw_size(path: str | Path, flag: tuple[int, int] | str | None) -> tuple[int, int]:
    """The frame size of a raw file: the flag (``WxH`` text or a tuple), else ``_WxH`` in the
    name; a flag that contradicts the name, or no size at all, is an error."""
    size = parse_size(flag) if isinstance(flag, str) else flag
    named = size_from_name(path)
    if size is not None and named is not None and tuple(size) != named:
        raise read_error(path, 0, f"size {size[0]}x{size[1]} contradicts the {named[0]}x{named[1]} in the file name")
    found = size or named
    if found is None:
        raise read_error(path, 0, "frame size unknown: pass a size (--size WxH) or put _WxH in the file name")
    if min(found) < 1:
        raise read_error(path, 0, f"frame size {found[0]}x{found[1]} is empty")
    return found


def parse_size(text: str) -> tuple[int, int]:
    """``"352x288"`` (or ``352X288``) -> ``(352, 288)``: the one parser of WxH size flags."""
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip().lower())
    if not match or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        raise VidquantError(f"size {text!r} is not WIDTHxHEIGHT (e.g. 352x288)")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True, eq=False)
class Frame:
    """Planar YUV 4:2:0 or 4:4:4 samples (the chroma planes' shape says which) at ``bit_depth``
    (uint8 up to 8 bit, uint16 above).

    ``rgb`` holds the source RGB (H, W, 3) when the frame came from an RGB file (PNG),
    so RGB metrics need no second colour conversion.
    """

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    bit_depth: int = 8
    rgb: np.ndarray | None = None

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        return int(self.y.shape[0])

    @property
    def peak(self) -> int:
        return (1 << self.bit_depth) - 1

    @property
    def planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.y, self.u, self.v

    @property
    def fmt(self) -> PixelFormat:
        """The pixel format that stores this frame without loss (4:4:4 when chroma is full size)."""
        return format_for_depth(self.bit_depth, 0 if self.u.shape == self.y.shape else 1)

    def to_tensor(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Y, U, V as float32 tensors of shape (1, 1, H, W) scaled to [0, 1] (network input)."""
        import torch

        scale = 1.0 / self.peak
        return tuple(  # type: ignore[return-value]
            torch.from_numpy(plane.astype(np.float32) * scale)[None, None] for plane in self.planes
        )

    @classmethod
    def from_tensor(cls, y: torch.Tensor, u: torch.Tensor, v: torch.Tensor, bit_depth: int = 8) -> "Frame":
        """Round [0, 1] float planes (any leading singleton dims) back to integer samples."""
        peak = (1 << bit_depth) - 1
        dtype = format_for_depth(bit_depth).dtype

        def to_plane(t: torch.Tensor) -> np.ndarray:
            values = (t.detach().float().clamp(0, 1) * peak).round().squeeze().cpu().numpy()
            return values.astype(dtype)

        return cls(to_plane(y), to_plane(u), to_plane(v), bit_depth)
