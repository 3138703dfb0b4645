"""One decoded picture as planar YUV 4:2:0 numpy arrays, plus the pixel formats we read and write."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vidquant.errors import VidquantError


@dataclass(frozen=True)
class PixelFormat:
    """A planar 4:2:0 sample layout: bit depth and bytes per stored sample (little endian)."""

    name: str
    bit_depth: int

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8) if self.bit_depth <= 8 else np.dtype("<u2")

    def frame_bytes(self, width: int, height: int) -> int:
        """Bytes of one stored frame: Y plus two half-size chroma planes."""
        chroma = ((width + 1) // 2) * ((height + 1) // 2)
        return (width * height + 2 * chroma) * self.dtype.itemsize


PIXEL_FORMATS: dict[str, PixelFormat] = {
    fmt.name: fmt
    for fmt in (
        PixelFormat("yuv420p", 8),
        PixelFormat("yuv420p10le", 10),
        PixelFormat("yuv420p12le", 12),
        PixelFormat("yuv420p16le", 16),
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


def format_for_depth(bit_depth: int) -> PixelFormat:
    """The 4:2:0 format that stores ``bit_depth`` samples without loss."""
    for fmt in PIXEL_FORMATS.values():
        if fmt.bit_depth >= bit_depth:
            return fmt
    raise VidquantError(f"bit depth {bit_depth} is above 16")


_SIZE_IN_NAME = re.compile(r"(?:^|[_\-.])(\d+)x(\d+)(?=$|[_\-.])")


def size_from_name(path: str | Path) -> tuple[int, int] | None:
    """Width and height from a ``_WxH`` part of the file name (``park_160x90_48f.yuv``), if any."""
    match = _SIZE_IN_NAME.search(Path(path).stem)
    return (int(match.group(1)), int(match.group(2))) if match else None


def parse_size(text: str) -> tuple[int, int]:
    """``"352x288"`` (or ``352X288``) -> ``(352, 288)``: the one parser of WxH size flags."""
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip().lower())
    if not match or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        raise VidquantError(f"size {text!r} is not WIDTHxHEIGHT (e.g. 352x288)")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True, eq=False)
class Frame:
    """Planar YUV 4:2:0 samples at ``bit_depth`` (uint8 up to 8 bit, uint16 above).

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

    def to_tensor(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Y, U, V as float32 tensors of shape (1, 1, H, W) scaled to [0, 1] (network input)."""
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
