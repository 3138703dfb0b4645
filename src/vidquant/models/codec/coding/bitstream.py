"""The versioned vidquant codec file: a header with the frame table, then one payload per frame.

Layout (big-endian):
  magic b"VQDC" | version u8 | preset name (u8 length + UTF-8) | height u16 | width u16 |
  threshold f32 (NaN = none) | model fingerprint u32 | frame count u32 |
  per frame: type u8 (b"I"/b"P") | qp u8 | flags u8 (bit 0: use_ada_i) | payload bytes u32 | CRC-32 u32 |
  payloads, in frame order.
Every read is bounds-checked, so truncated or corrupted files fail with a message naming
the frame instead of crashing or hanging.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from vidquant.errors import VidquantError

MAGIC = b"VQDC"
VERSION = 2
_FIXED = struct.Struct(">HHfII")  # height, width, threshold, fingerprint, frame count
_FRAME = struct.Struct(">cBBII")  # type, qp, flags, payload length, crc32
FLAG_USE_ADA_I = 1
# The largest picture side a stream may claim: a corrupted header must not make the decoder
# allocate for 65535x65535 (checked before any allocation, on both sides).
MAX_SIDE = 8192


@dataclass(frozen=True)
class CodedFrame:
    kind: str  # "I" or "P"
    qp: int
    use_ada_i: bool
    payload: bytes


@dataclass
class Bitstream:
    preset: str
    height: int
    width: int
    thres: float | None
    fingerprint: int
    frames: list[CodedFrame] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        check_size(self.width, self.height)
        name = self.preset.encode("utf-8")
        thres = math.nan if self.thres is None else self.thres
        parts = [MAGIC, bytes([VERSION, len(name)]), name]
        parts.append(_FIXED.pack(self.height, self.width, thres, self.fingerprint, len(self.frames)))
        for frame in self.frames:
            flags = FLAG_USE_ADA_I if frame.use_ada_i else 0
            crc = zlib.crc32(frame.payload)
            parts.append(_FRAME.pack(frame.kind.encode(), frame.qp, flags, len(frame.payload), crc))
        parts.extend(frame.payload for frame in self.frames)
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Bitstream":
        reader = _Reader(data)
        if reader.take(4, "header") != MAGIC:
            raise VidquantError("not a vidquant codec bitstream (bad magic)")
        version = reader.take(1, "header")[0]
        if version != VERSION:
            raise VidquantError(f"unsupported bitstream version {version} (this build reads version {VERSION})")
        name = reader.take(reader.take(1, "header")[0], "header").decode("utf-8", errors="replace")
        height, width, thres, fingerprint, count = _FIXED.unpack(reader.take(_FIXED.size, "header"))
        check_size(width, height)
        table = [_FRAME.unpack(reader.take(_FRAME.size, f"frame table entry {i}")) for i in range(count)]
        stream = cls(name, height, width, None if math.isnan(thres) else thres, fingerprint)
        for index, (kind, qp, flags, length, crc) in enumerate(table):
            stream.frames.append(_frame(index, kind, qp, flags, reader.take(length, f"frame {index}"), crc))
        if reader.remaining():
            raise VidquantError(f"bitstream has {reader.remaining()} unexpected trailing bytes after frame {count - 1}")
        return stream

    def write(self, path: str | Path) -> int:
        data = self.to_bytes()
        Path(path).write_bytes(data)
        return len(data)

    @classmethod
    def read(cls, path: str | Path) -> "Bitstream":
        path = Path(path)
        if path.is_dir():
            raise VidquantError(f"bitstream {path} is a folder, not a file")
        if not path.is_file():
            raise VidquantError(f"bitstream {path} does not exist")
        return cls.from_bytes(path.read_bytes())


def check_size(width: int, height: int) -> None:
    """Refuse a picture size of 0 or above ``MAX_SIDE`` on either side."""
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise VidquantError(f"picture size {width}x{height} is outside 1..{MAX_SIDE} on a side "
                            "(a corrupted header, or a video larger than this codec takes)")


def _frame(index: int, kind: bytes, qp: int, flags: int, payload: bytes, crc: int) -> CodedFrame:
    if kind not in (b"I", b"P"):
        raise VidquantError(f"frame {index}: unknown frame type {kind!r} (corrupted frame table)")
    if index == 0 and kind != b"I":
        raise VidquantError("frame 0: the first frame must be an I-frame (corrupted frame table)")
    if zlib.crc32(payload) != crc:
        raise VidquantError(f"frame {index}: payload corrupted (checksum mismatch)")
    return CodedFrame(kind.decode(), qp, bool(flags & FLAG_USE_ADA_I), payload)


class _Reader:
    """Bounds-checked cursor over the file bytes."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, count: int, what: str) -> bytes:
        if self.pos + count > len(self.data):
            have = len(self.data) - self.pos
            raise VidquantError(f"bitstream truncated in {what}: needs {count} bytes, {have} left")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def remaining(self) -> int:
        return len(self.data) - self.pos
