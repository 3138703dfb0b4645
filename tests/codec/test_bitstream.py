"""Bitstream file format: round trip and bad input (truncated, corrupted, wrong version)."""

from __future__ import annotations

import struct
import zlib

import pytest

from vidquant.deploy.bitstream import MAGIC, VERSION, Bitstream, CodedFrame
from vidquant.errors import VidquantError

DIGEST = bytes(range(16))
DECODER = "w8a8-static (integer-kernels/2)"


def _stream() -> Bitstream:
    frames = [CodedFrame("I", 21, False, b"\x01\x02\x03\x04"), CodedFrame("P", 29, True, bytes(range(8)))]
    return Bitstream("dcvc-rt-small", DECODER, 90, 120, 0.12, DIGEST, frames)


def _size_offset(stream: Bitstream) -> int:
    return 4 + 1 + 1 + len(stream.preset.encode()) + 1 + len(stream.decoder.encode())


def _reseal(data: bytearray, stream: Bitstream) -> bytes:
    """Recompute the header checksum after editing the header, as a deliberate forger would."""
    end = _size_offset(stream) + 2 + 2 + 4 + 16 + 4 + 11 * len(stream.frames)
    data[end:end + 4] = struct.pack(">I", zlib.crc32(bytes(data[:end])))
    return bytes(data)


def test_round_trip_keeps_every_field():
    back = Bitstream.from_bytes(_stream().to_bytes())
    assert back.frames == _stream().frames
    assert (back.preset, back.decoder, back.height, back.width, back.fingerprint) == (
        "dcvc-rt-small", DECODER, 90, 120, DIGEST)
    assert back.thres == pytest.approx(0.12)


@pytest.mark.parametrize("height, width", [(96, 120), (90, 112), (81, 120)])
def test_a_header_edit_is_refused_even_within_the_padding(height, width):
    """#22 case 4: 90x120 -> 96x120 pads to the same 96x128 coded size; it used to decode cropped."""
    data = bytearray(_stream().to_bytes())
    data[_size_offset(_stream()):_size_offset(_stream()) + 4] = struct.pack(">HH", height, width)
    with pytest.raises(VidquantError, match="header corrupted"):
        Bitstream.from_bytes(bytes(data))


def test_every_header_byte_is_covered_by_the_checksum():
    data = _stream().to_bytes()
    header = len(data) - 12 - 4  # payloads (4 + 8 bytes) and the checksum itself
    for index in range(5, header):  # after magic and version, which have their own messages
        flipped = bytearray(data)
        flipped[index] ^= 0x01
        with pytest.raises(VidquantError):
            Bitstream.from_bytes(bytes(flipped))


def test_no_threshold_round_trips_as_none():
    stream = _stream()
    stream.thres = None
    assert Bitstream.from_bytes(stream.to_bytes()).thres is None


def test_truncated_payload_names_the_frame():
    data = _stream().to_bytes()
    with pytest.raises(VidquantError, match="frame 1"):
        Bitstream.from_bytes(data[:-3])


def test_truncated_header_is_reported():
    with pytest.raises(VidquantError, match="truncated in header"):
        Bitstream.from_bytes(_stream().to_bytes()[:10])


def test_corrupted_payload_names_the_frame():
    data = bytearray(_stream().to_bytes())
    data[-8] ^= 0xFF  # inside the payload of frame 1
    with pytest.raises(VidquantError, match="frame 1: payload corrupted"):
        Bitstream.from_bytes(bytes(data))


def test_wrong_version_and_magic():
    data = bytearray(_stream().to_bytes())
    data[len(MAGIC)] = VERSION + 1
    with pytest.raises(VidquantError, match="unsupported bitstream version"):
        Bitstream.from_bytes(bytes(data))
    with pytest.raises(VidquantError, match="bad magic"):
        Bitstream.from_bytes(b"XXXX" + bytes(data[4:]))


@pytest.mark.parametrize("height, width", [(65535, 65535), (8193, 16), (16, 0)])
def test_a_claimed_size_out_of_bounds_is_refused_before_any_allocation(height, width):
    """A 3 KB stream claiming 65535x65535 made the decoder try to allocate 96 GiB."""
    data = bytearray(_stream().to_bytes())
    offset = _size_offset(_stream())
    data[offset:offset + 4] = struct.pack(">HH", height, width)
    with pytest.raises(VidquantError, match=rf"picture size {width}x{height} is outside 1\.\.8192"):
        Bitstream.from_bytes(_reseal(data, _stream()))


def test_a_frame_count_beyond_the_file_is_refused_before_reading_the_table():
    data = bytearray(_stream().to_bytes())
    offset = _size_offset(_stream()) + 2 + 2 + 4 + 16
    data[offset:offset + 4] = struct.pack(">I", 0xFFFFFFFF)
    with pytest.raises(VidquantError, match="truncated in frame table"):
        Bitstream.from_bytes(bytes(data))


def test_the_encoder_side_refuses_what_no_decoder_would_read():
    stream = _stream()
    stream.width = 8200
    with pytest.raises(VidquantError, match="outside 1..8192"):
        stream.to_bytes()


@pytest.mark.parametrize("index, flags", [(0, 1), (1, 2), (1, 0x81)])
def test_flags_no_encoder_writes_are_refused(index, flags):
    """Found by benchmarks/fuzz.py: unknown flag bits (or a reset flag on an I-frame) were ignored."""
    stream = _stream()
    data = bytearray(stream.to_bytes())
    entry = _size_offset(stream) + 2 + 2 + 4 + 16 + 4 + 11 * index
    data[entry + 2] = flags
    with pytest.raises(VidquantError, match=rf"frame {index}: flags {flags:#04x} are not valid .*corrupted frame table"):
        Bitstream.from_bytes(_reseal(data, stream))
