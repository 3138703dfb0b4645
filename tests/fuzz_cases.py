"""Fuzz cases of issue #22, shared by the CI property test (tests/test_fuzz.py, Hypothesis draws)
and the long campaign (benchmarks/fuzz.py, seeded draws): every case builds one bad input from
a ``draw(low, high)`` source of integers, feeds it to the entry point that reads that kind of
input, and classifies what happened.

Outcomes:

- ``clean_error``: a ``VidquantError`` (the CLI prints it as one line, exit 2);
- ``accepted``: the input was read without error and that is correct for this kind (a Y4M cut
  at a frame boundary, a recipe whose edited field still has a valid value);
- ``forged_decoded``: a stream whose header or payload was edited *and its checksums
  recomputed* decoded to pictures of the size it states that differ from the genuine stream's
  (a deliberate forgery, no corruption: checksums cannot tell it from a genuine stream);
  ``forged_identical``: it decoded to exactly the genuine stream's pictures;
- ``silent_success``: a corrupted stream decoded, or NaN/Inf samples gave a number: a failure;
- ``traceback``: any other exception: a failure.

Kinds whose input is corrupted (``CORRUPT_KINDS``) must never be ``accepted``: there success
is ``silent_success``.
"""

from __future__ import annotations

import json
import math
import struct
import tempfile
import traceback
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from vidquant.errors import VidquantError

Draw = Callable[[int, int], int]  # an integer in [low, high], both included

FAILURES = ("silent_success", "traceback")
CORRUPT_KINDS = ("stream_bitflip", "stream_truncate", "stream_extend", "stream_garbage", "nan_frames")
KINDS = CORRUPT_KINDS + ("stream_header_forged", "stream_payload_forged", "y4m_malformed", "raw_malformed",
                         "recipe_wrong_type")


@dataclass
class Outcome:
    kind: str
    status: str
    detail: str = ""


class Fixture:
    """What the cases share, built once: the packaged codec, valid streams and a scratch folder."""

    def __init__(self) -> None:
        self._codec = None
        self._streams: list[bytes] | None = None
        self.folder = Path(tempfile.mkdtemp(prefix="vidquant-fuzz-"))

    @property
    def codec(self):
        if self._codec is None:
            from vidquant.models.codec import build_codec

            self._codec = build_codec("dcvc-rt-small")
        return self._codec

    @property
    def streams(self) -> list[bytes]:
        """Two genuine streams: 48x32 (I, P) and 64x48 (I, P, P) at qp 10 and 50."""
        if self._streams is None:
            from vidquant.models.codec.coding.pipeline import EncodeSettings, encode_video

            self._streams = []
            for (height, width, count), qp in (((32, 48, 2), 10), ((48, 64, 3), 50)):
                frames = _moving_frames(count, height, width)
                result = encode_video(self.codec, frames, EncodeSettings(qp, qp))
                self._streams.append(result.bitstream.to_bytes())
        return self._streams


def _moving_frames(count: int, height: int, width: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rows, cols = np.mgrid[0:height, 0:width]
    frames = []
    for t in range(count):
        luma = 128 + 60 * np.sin((cols + t) / 7.0) * np.cos(rows / 9.0)
        chroma = 128 + 30 * np.sin((rows[::2, ::2] + cols[::2, ::2] + t) / 11.0)
        frames.append(tuple(np.clip(p, 0, 255).astype(np.uint8) for p in (luma, chroma, 255 - chroma)))
    return frames


def run_case(kind: str, draw: Draw, fixture: Fixture) -> Outcome:
    """Build and run one case of ``kind``; never raises."""
    try:
        status = _CASES[kind](draw, fixture)
    except VidquantError as error:
        message = str(error)
        if "\n" in message:
            return Outcome(kind, "traceback", f"multi-line error: {message[:300]!r}")
        return Outcome(kind, "clean_error", message[:200])
    except Exception:  # noqa: BLE001 - any other exception is what the fuzzing looks for
        return Outcome(kind, "traceback", traceback.format_exc()[-1500:])
    return Outcome(kind, status)


# ---------------------------------------------------------------- codec streams


def _decode(data: bytes, fixture: Fixture) -> list:
    """The cropped pictures of a stream (at the size its header states)."""
    from vidquant.deploy.bitstream import Bitstream
    from vidquant.models.codec.coding.pipeline import decode_video

    stream = Bitstream.from_bytes(data)
    pictures = []
    for x_hat in decode_video(fixture.codec, stream):
        coded = (-(-stream.height // 16) * 16, -(-stream.width // 16) * 16)
        if tuple(x_hat.shape[-2:]) != coded:
            raise AssertionError(f"decoded {tuple(x_hat.shape)} for a {stream.width}x{stream.height} stream")
        pictures.append(x_hat[..., : stream.height, : stream.width])
    return pictures


def _forged_status(data: bytes, original: bytes, fixture: Fixture) -> str:
    """``forged_identical`` when the forged stream decodes to the genuine one's pictures (an edit
    of a field with no effect, e.g. a reset flag on the first P-frame), else ``forged_decoded``."""
    forged = _decode(data, fixture)
    genuine = _decode(original, fixture)
    same = len(forged) == len(genuine) and all(f.shape == g.shape and bool((f == g).all())
                                               for f, g in zip(forged, genuine))
    return "forged_identical" if same else "forged_decoded"


def _pick_stream(draw: Draw, fixture: Fixture) -> bytearray:
    streams = fixture.streams
    return bytearray(streams[draw(0, len(streams) - 1)])


def _bitflip(draw: Draw, fixture: Fixture) -> str:
    data = _pick_stream(draw, fixture)
    for position in {draw(0, len(data) * 8 - 1) for _ in range(draw(1, 8))}:  # distinct: two flips of one bit cancel
        data[position // 8] ^= 1 << (position % 8)
    _decode(bytes(data), fixture)
    return "silent_success"


def _truncate(draw: Draw, fixture: Fixture) -> str:
    data = _pick_stream(draw, fixture)
    _decode(bytes(data[: draw(0, len(data) - 1)]), fixture)
    return "silent_success"


def _extend(draw: Draw, fixture: Fixture) -> str:
    data = _pick_stream(draw, fixture)
    _decode(bytes(data) + bytes(draw(0, 255) for _ in range(draw(1, 16))), fixture)
    return "silent_success"


def _garbage(draw: Draw, fixture: Fixture) -> str:
    from vidquant.deploy.bitstream import MAGIC, VERSION

    prefix = MAGIC + bytes([VERSION]) if draw(0, 1) else b""
    _decode(prefix + bytes(draw(0, 255) for _ in range(draw(0, 300))), fixture)
    return "silent_success"


@dataclass
class _Layout:
    """Byte offsets of one stream's header fields (bitstream.py layout)."""

    fixed: int  # height u16, width u16, threshold f32, fingerprint 16, count u32
    table: int
    frames: int
    crc: int

    @classmethod
    def of(cls, data: bytes) -> "_Layout":
        preset_len = data[5]
        decoder_len = data[6 + preset_len]
        fixed = 7 + preset_len + decoder_len
        count = struct.unpack(">I", data[fixed + 24 : fixed + 28])[0]
        table = fixed + 28
        return cls(fixed, table, count, table + 11 * count)

    def reseal(self, data: bytearray) -> bytes:
        data[self.crc : self.crc + 4] = struct.pack(">I", zlib.crc32(bytes(data[: self.crc])))
        return bytes(data)


_FIELD_VALUES = (0, 1, 2, 15, 16, 17, 255, 256, 4095, 8192, 8193, 65535)


def _header_forged(draw: Draw, fixture: Fixture) -> str:
    original = _pick_stream(draw, fixture)
    layout = _Layout.of(bytes(original))
    data = bytearray(original)
    for _ in range(16):  # an edit that writes the value already there is no forgery
        _edit_header_field(data, layout, draw)
        if data != original:
            break
    else:
        data[layout.fixed + 1] ^= 1  # height's low bit
    return _forged_status(layout.reseal(data), bytes(original), fixture)


def _edit_header_field(data: bytearray, layout: _Layout, draw: Draw) -> None:
    field = draw(0, 8)
    value = _FIELD_VALUES[draw(0, len(_FIELD_VALUES) - 1)] if draw(0, 1) else draw(0, 65535)
    if field in (0, 1):  # height, width
        at = layout.fixed + 2 * field
        data[at : at + 2] = struct.pack(">H", value)
    elif field == 2:  # threshold
        choices = (math.nan, math.inf, -1.0, 0.0, 0.11, 0.5, 1e30, value / 100.0)
        data[layout.fixed + 4 : layout.fixed + 8] = struct.pack(">f", choices[draw(0, len(choices) - 1)])
    elif field == 3:  # fingerprint byte
        data[layout.fixed + 8 + draw(0, 15)] = draw(0, 255)
    else:  # one frame-table entry: type, qp, flags, payload length
        entry = layout.table + 11 * draw(0, layout.frames - 1)
        if field == 4:
            data[entry] = (ord("I"), ord("P"), 0, ord("B"))[draw(0, 3)]
        elif field == 5:
            data[entry + 1] = value % 256
        elif field == 6:
            data[entry + 2] = value % 256
        else:
            data[entry + 3 : entry + 7] = struct.pack(">I", value * draw(1, 65536) % (1 << 32))


def _payload_forged(draw: Draw, fixture: Fixture) -> str:
    original = _pick_stream(draw, fixture)
    data = bytearray(original)
    layout = _Layout.of(bytes(data))
    lengths = [struct.unpack(">I", data[layout.table + 11 * i + 3 : layout.table + 11 * i + 7])[0]
               for i in range(layout.frames)]
    index = draw(0, layout.frames - 1)
    start = layout.crc + 4 + sum(lengths[:index])
    for position in {draw(0, lengths[index] * 8 - 1) for _ in range(draw(1, 4))}:
        data[start + position // 8] ^= 1 << (position % 8)
    entry = layout.table + 11 * index
    data[entry + 7 : entry + 11] = struct.pack(">I", zlib.crc32(bytes(data[start : start + lengths[index]])))
    return _forged_status(layout.reseal(data), bytes(original), fixture)


# ---------------------------------------------------------------- video files


def _read_all(path: Path, **options) -> None:
    from vidquant.io import open_video

    for frame in open_video(path, **options):
        if frame.y.size == 0:
            raise AssertionError("empty frame")


_Y4M_TOKENS = ("W16", "H8", "W0", "H0", "W-4", "W99999999", "H99999999", "W1", "Wabc", "C420jpeg", "C444",
               "C420p10", "C422", "Cmono", "C", "F25:1", "F0:0", "Ip", "A1:1", "XYSCSS=420P10", "")


def _y4m_malformed(draw: Draw, fixture: Fixture) -> str:
    frame = b"FRAME\n" + bytes(range(192))  # 16x8 4:2:0 8-bit
    header = ["YUV4MPEG2", "W16", "H8", "F25:1", "Ip", "A1:1", "C420jpeg"]
    for _ in range(draw(0, 3)):
        header[draw(0, len(header) - 1)] = _Y4M_TOKENS[draw(0, len(_Y4M_TOKENS) - 1)]
    data = bytearray(" ".join(header).encode() + b"\n" + frame * draw(0, 3))
    operation = draw(0, 3)
    if operation == 1 and data:
        del data[draw(0, len(data) - 1):]
    elif operation == 2 and data:
        for _ in range(draw(1, 4)):
            data[draw(0, len(data) - 1)] = draw(0, 255)
    elif operation == 3:
        data += bytes(draw(0, 255) for _ in range(draw(1, 64)))
    path = fixture.folder / "case.y4m"
    path.write_bytes(bytes(data))
    _read_all(path)
    return "accepted"


_PIX_WORDS = ("", "_yuv420p", "_yuv420p10le", "_yuv444p", "_yuv444p16le", "_yuv422p", "_nv12", "_gray")


def _raw_malformed(draw: Draw, fixture: Fixture) -> str:
    sizes = ((16, 8), (0, 8), (16, 0), (1, 1), (3, 5), (8192, 8192), (99999, 99999), (65536, 1))
    width, height = sizes[draw(0, len(sizes) - 1)]
    named = draw(0, 1)
    name = f"case_{width}x{height}{_PIX_WORDS[draw(0, len(_PIX_WORDS) - 1)]}.yuv" if named else "case.yuv"
    for stale in fixture.folder.glob("case*.yuv"):
        stale.unlink()
    path = fixture.folder / name
    path.write_bytes(bytes(draw(0, 255) for _ in range(draw(0, 4))) * draw(0, 200))
    options = {}
    if not named or draw(0, 1):
        options["size"] = ("16x8", "0x0", "x", "16x8x2", "99999x99999", "3x5")[draw(0, 5)]
    if draw(0, 1):
        options["pix_fmt"] = ("yuv420p", "yuv420p10le", "yuv444p", "bogus", "")[draw(0, 4)]
    _read_all(path, **options)
    return "accepted"


# ---------------------------------------------------------------- recipes

_WRONG_VALUES = (None, True, False, 0, -1, 8, 8.5, 1e308, "8", "int8", "", [], [8], {}, {"kind": "per_tensor"},
                 {"bits": "8"}, [[]], "per_channel")


def _recipe_wrong_type(draw: Draw, fixture: Fixture) -> str:
    from vidquant.quant.recipes import Recipe, list_recipes, load_recipe_file

    recipes = list_recipes()
    data = recipes[draw(0, len(recipes) - 1)].to_dict()
    for _ in range(draw(1, 3)):
        target = data
        slots = [s for s in ("weight", "input", "output") if isinstance(data.get(s), dict)]
        if slots and draw(0, 1):
            target = data[slots[draw(0, len(slots) - 1)]]
            if isinstance(target.get("granularity"), dict) and draw(0, 2) == 0:
                target = target["granularity"]
        keys = sorted(target) + ["unknown_field"]
        target[keys[draw(0, len(keys) - 1)]] = _WRONG_VALUES[draw(0, len(_WRONG_VALUES) - 1)]
    path = fixture.folder / "recipe.json"
    path.write_text(json.dumps(data))
    recipe = load_recipe_file(path)
    if Recipe.from_dict(json.loads(json.dumps(recipe.to_dict()))) != recipe:
        raise AssertionError("an accepted recipe does not round-trip")
    return "accepted"


# ---------------------------------------------------------------- NaN / Inf samples


def _nan_frames(draw: Draw, fixture: Fixture) -> str:
    from vidquant.io import Frame
    from vidquant.metrics import compare_frames, psnr

    rng = np.random.default_rng(draw(0, 2**31 - 1))
    height, width = 2 * draw(1, 24), 2 * draw(1, 24)
    planes = [rng.random((height, width)) * 255, rng.random((height // 2, width // 2)) * 255,
              rng.random((height // 2, width // 2)) * 255]
    bad = [p.copy() for p in planes]
    plane = bad[draw(0, 2)]
    for _ in range(draw(1, 3)):
        plane[draw(0, plane.shape[0] - 1), draw(0, plane.shape[1] - 1)] = (math.nan, math.inf, -math.inf)[draw(0, 2)]
    pair = [planes, bad] if draw(0, 1) else [bad, planes]
    route = draw(0, 2)
    if route == 0:
        index = next(i for i in range(3) if not np.isfinite(bad[i]).all())
        psnr(pair[0][index], pair[1][index])
    elif route == 1:
        result = compare_frames([Frame(*pair[0])], [Frame(*pair[1])], with_ssim=bool(draw(0, 1)))
        if result.error:
            raise VidquantError(result.error)
    else:
        _nan_sci_file(fixture, bad[0] if not np.isfinite(bad[0]).all() else bad[1] if not np.isfinite(bad[1]).all()
                      else bad[2], draw)
    return "silent_success"


def _nan_sci_file(fixture: Fixture, plane: np.ndarray, draw: Draw) -> None:
    from scipy.io import savemat

    from vidquant.models.sci.data import load_benchmark

    height, width = plane.shape
    mask = np.ones((height, width, 2), np.uint8)
    orig = np.zeros((height, width, 2))
    key = ("meas", "orig")[draw(0, 1)]
    data = {"meas": plane[..., None] if key == "meas" else orig[..., :1], "mask": mask,
            "orig": np.stack([plane, plane], -1) if key == "orig" else orig}
    path = fixture.folder / "case.mat"
    savemat(path, data)
    load_benchmark(path)


_CASES: dict[str, Callable[[Draw, Fixture], str]] = {
    "stream_bitflip": _bitflip,
    "stream_truncate": _truncate,
    "stream_extend": _extend,
    "stream_garbage": _garbage,
    "nan_frames": _nan_frames,
    "stream_header_forged": _header_forged,
    "stream_payload_forged": _payload_forged,
    "y4m_malformed": _y4m_malformed,
    "raw_malformed": _raw_malformed,
    "recipe_wrong_type": _recipe_wrong_type,
}
