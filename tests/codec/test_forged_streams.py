"""Streams whose header was forged with its checksum recomputed (issue #22, case 9): the payload
sizes are checked against the claimed picture size before any picture-sized allocation, and a
payload with data left after its last symbol is refused."""

from __future__ import annotations

import struct
import zlib

from tests.codec.test_cli import _video
from vidquant.cli.main import main
from vidquant.deploy.bitstream import Bitstream


def _forged(tmp_path, width, height):
    """A valid 48x32 stream whose header claims another size, its header checksum recomputed."""
    video, stream = _video(tmp_path, 2), tmp_path / "s.bin"
    assert main(["codec", "encode", str(video), "-o", str(stream), "--qp", "5", "--synthetic"]) == 0
    parsed = Bitstream.read(stream)
    data = bytearray(stream.read_bytes())
    at = 4 + 1 + 1 + len(parsed.preset) + 1 + len(parsed.decoder)
    data[at:at + 4] = struct.pack(">HH", height, width)
    end = at + 4 + 4 + 16 + 4 + 11 * len(parsed.frames)
    data[end:end + 4] = struct.pack(">I", zlib.crc32(bytes(data[:end])))
    forged = tmp_path / f"forged_{width}x{height}.bin"
    forged.write_bytes(bytes(data))
    return forged


def test_a_forged_large_size_fails_before_any_picture_sized_allocation(tmp_path, capsys):
    """#22 case 9: a small stream claiming 8192x8192 reached 2 GB RSS (and 15 s) before failing."""
    import resource

    forged = _forged(tmp_path, 8192, 8192)
    capsys.readouterr()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert main(["codec", "decode", str(forged), "-o", str(tmp_path / "x.yuv"), "--synthetic"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("vidquant codec: error: frame 0: payload of ") and "is too short for a 8192x8192 picture" in err
    # peak RSS did not grow by a picture's worth (a 8192x8192 float frame alone is 768 MiB)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024


def test_a_forged_smaller_size_is_refused_not_decoded_cropped(tmp_path, capsys):
    forged = _forged(tmp_path, 32, 32)
    capsys.readouterr()
    assert main(["codec", "decode", str(forged), "-o", str(tmp_path / "x.yuv"), "--synthetic"]) == 2
    assert "payload has data left after the frame's last symbol" in capsys.readouterr().err
    assert not (tmp_path / "x.yuv").exists() or (tmp_path / "x.yuv").stat().st_size == 0
