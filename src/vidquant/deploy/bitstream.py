"""The versioned vidquant codec file: a header with the frame table, then one payload per frame.

Layout (big-endian):
  magic b"VQDC" | version u8 | preset name (u8 length + UTF-8) | decoder name (u8 length + UTF-8) |
  height u16 | width u16 | threshold f32 (NaN = none) | decoder fingerprint (16 bytes) | frame count u32 |
  per frame: type u8 (b"I"/b"P") | qp u8 | flags u8 (bit 0: use_ada_i) | payload bytes u32 | CRC-32 u32 |
  header CRC-32 u32 (of every byte before it) | payloads, in frame order.
Every read is bounds-checked, so truncated or corrupted files fail with a message naming
the frame instead of crashing or hanging. This module imports no torch: a deployed decoder
(``vidquant codec decode --bundle``) reads streams with it.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from vidquant.errors import VidquantError

MAGIC = b"VQDC"
VERSION = 3
FINGERPRINT_BYTES = 16
_FIXED = struct.Struct(f">HHf{FINGERPRINT_BYTES}sI")  # height, width, threshold, fingerprint, frame count
_CRC = struct.Struct(">I")
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
    """One coded video. ``decoder`` names the decoder the stream needs (``float32``, or an INT8
    student's recipe and numerics) and ``fingerprint`` identifies it exactly: a digest of its
    tensors and numerics (``vidquant.quant.fingerprint.fingerprint``), checked before decoding."""

    preset: str
    decoder: str
    height: int
    width: int
    thres: float | None
    fingerprint: bytes
    frames: list[CodedFrame] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        check_size(self.width, self.height)
        if len(self.fingerprint) != FINGERPRINT_BYTES:
            raise ValueError(f"fingerprint must be {FINGERPRINT_BYTES} bytes, got {len(self.fingerprint)}")
        thres = math.nan if self.thres is None else self.thres
        parts = [MAGIC, bytes([VERSION]), _short_string(self.preset), _short_string(self.decoder)]
        parts.append(_FIXED.pack(self.height, self.width, thres, self.fingerprint, len(self.frames)))
        for frame in self.frames:
            flags = FLAG_USE_ADA_I if frame.use_ada_i else 0
            crc = zlib.crc32(frame.payload)
            parts.append(_FRAME.pack(frame.kind.encode(), frame.qp, flags, len(frame.payload), crc))
        parts.append(_CRC.pack(zlib.crc32(b"".join(parts))))
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
        name, decoder = reader.short_string(), reader.short_string()
        height, width, thres, fingerprint, count = _FIXED.unpack(reader.take(_FIXED.size, "header"))
        _check_table_fits(count, reader.remaining())  # before reading (or allocating) count entries
        table = [_FRAME.unpack(reader.take(_FRAME.size, f"frame table entry {i}")) for i in range(count)]
        header_crc = zlib.crc32(data[: reader.pos])
        if _CRC.unpack(reader.take(_CRC.size, "header checksum"))[0] != header_crc:
            raise VidquantError("bitstream header corrupted (checksum mismatch)")
        check_size(width, height)
        stream = cls(name, decoder, height, width, None if math.isnan(thres) else thres, fingerprint)
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


def check_stream_decoder(stream: Bitstream, preset: str, decoder: str, digest: bytes) -> None:
    """Refuse a decoder other than the one that coded ``stream`` (its preset and fingerprint),
    naming both: the entropy decoder would lose sync and decode garbage."""
    if stream.preset != preset or stream.fingerprint != digest:
        raise VidquantError(
            f"bitstream was encoded with another decoder (preset {stream.preset!r}, {stream.decoder}, fingerprint "
            f"{stream.fingerprint.hex()}; this decoder: preset {preset!r}, {decoder}, fingerprint {digest.hex()}); "
            "decode with the model that encoded it (the same weights, and the same --quant student if any)"
        )


def _short_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 255:
        raise ValueError(f"{text!r} is longer than 255 bytes")
    return bytes([len(raw)]) + raw


def _check_table_fits(count: int, remaining: int) -> None:
    if count * _FRAME.size + _CRC.size > remaining:
        raise VidquantError(f"bitstream truncated in frame table: {count} frames need {count * _FRAME.size} "
                            f"bytes, {remaining} left")


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
    if flags & ~FLAG_USE_ADA_I or (kind == b"I" and flags):
        raise VidquantError(f"frame {index}: flags {flags:#04x} are not valid for a{'n' if kind == b'I' else ''} "
                            f"{kind.decode()}-frame (corrupted frame table)")
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

    def short_string(self) -> str:
        """A u8 length and that many UTF-8 bytes."""
        return self.take(self.take(1, "header")[0], "header").decode("utf-8", errors="replace")

    def remaining(self) -> int:
        return len(self.data) - self.pos
