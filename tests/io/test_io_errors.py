"""Every bad-input case gives one VidquantError line naming the file and the frame index."""

import re

import av
import numpy as np
import pytest

from vidquant.errors import VidquantError
from vidquant.io import Frame, open_video, open_writer


def expect(message, *args, **kwargs):
    with pytest.raises(VidquantError) as info:
        list(open_video(*args, **kwargs))
    assert str(info.value) == message


def test_yuv_size_not_whole_frames_states_frame_and_file_size(tmp_path):
    path = tmp_path / "park_160x90.yuv"
    path.write_bytes(bytes(50000))
    expect(f"cannot read {path} at frame 2: file size 50000 bytes is not a whole number of frames "
           f"(160x90 yuv420p frames are 21600 bytes each)", path)
    expect(f"cannot read {path} at frame 1: file size 50000 bytes is not a whole number of frames "
           f"(160x90 yuv420p10le frames are 43200 bytes each)", path, pix_fmt="yuv420p10le")


def test_yuv_without_size(tmp_path):
    path = tmp_path / "clip.yuv"
    path.write_bytes(bytes(100))
    expect(f"cannot read {path} at frame 0: frame size unknown: pass a size (--size WxH) "
           f"or put _WxH in the file name", path)


def test_unknown_pixel_format_raw_and_y4m(tmp_path):
    raw = tmp_path / "clip_16x8.yuv"
    raw.write_bytes(bytes(192))
    expect(f"cannot read {raw} at frame 0: unknown pixel format 'yuv422p' "
           f"(supported: yuv420p, yuv420p10le, yuv420p12le, yuv420p16le, yuv444p, yuv444p10le, yuv444p12le, "
           f"yuv444p16le)", raw, pix_fmt="yuv422p")
    y4m = tmp_path / "clip.y4m"
    y4m.write_bytes(b"YUV4MPEG2 W16 H8 F25:1 C422\nFRAME\n" + bytes(256))
    expect(f"cannot read {y4m} at frame 0: unknown pixel format 'C422' "
           f"(supported: C420jpeg, C420, C420mpeg2, C420paldv, C420p10, C420p12, C420p16, C444, C444p10, "
           f"C444p12, C444p16)", y4m)


@pytest.mark.parametrize("name", ["missing.yuv", "missing.y4m", "missing.mp4"])
def test_missing_file(tmp_path, name):
    expect(f"cannot read {tmp_path / name} at frame 0: no such file", tmp_path / name, size=(16, 8))


def test_corrupt_container(tmp_path):
    path = tmp_path / "garbage.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    expect(f"cannot read {path} at frame 0: not a decodable video (Invalid data found when processing input)", path)


def test_missing_png_sequence(tmp_path):
    expect(f"cannot read {tmp_path / 'im%05d.png'} at frame 0: no PNG files match", tmp_path / "im%05d.png")


def write_y4m(path, frames=8):
    rng = np.random.default_rng(0)
    with open_writer(path, 16, 8) as writer:
        for _ in range(frames):
            writer.write(Frame(rng.integers(0, 256, (8, 16), dtype=np.uint8),
                               rng.integers(0, 256, (4, 8), dtype=np.uint8),
                               rng.integers(0, 256, (4, 8), dtype=np.uint8)))


def corrupt_frame_marker(path, index):
    data = bytearray(path.read_bytes())
    starts = [m.start() for m in re.finditer(b"FRAME\n", bytes(data))]
    data[starts[index]:starts[index] + 5] = b"JUNK!"
    path.write_bytes(bytes(data))


def read_until_error(path):
    """Frames yielded before the reader failed, and its message."""
    frames = []
    with pytest.raises(VidquantError) as info:
        for frame in open_video(path):
            frames.append(frame)
    return frames, str(info.value)


def test_corrupt_frame_in_middle_keeps_earlier_frames(tmp_path):
    path = tmp_path / "long.y4m"
    write_y4m(path)
    corrupt_frame_marker(path, 5)
    frames, message = read_until_error(path)
    assert message == f"cannot read {path} at frame 5: bad Y4M frame header b'JUNK!\\n'"
    assert len(frames) == 5


def test_truncated_last_frame(tmp_path):
    path = tmp_path / "cut.y4m"
    write_y4m(path, 3)
    path.write_bytes(path.read_bytes()[:-10])
    expect(f"cannot read {path} at frame 2: truncated frame: expected 192 bytes, got 182", path)


def test_corrupt_packet_in_container_keeps_earlier_frames(tmp_path):
    """FFV1 ends each frame with a slice-size footer; damaging it makes FFmpeg fail that frame."""
    path = tmp_path / "clip.mkv"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"level": "3", "slicecrc": "1"}
        for _ in range(10):
            rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with av.open(str(path)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    data = bytearray(path.read_bytes())
    pos, size = packets[6]
    data[pos + size - 32: pos + size] = bytes(b ^ 0x5A for b in data[pos + size - 32: pos + size])
    path.write_bytes(bytes(data))
    frames, message = read_until_error(path)
    assert message == f"cannot read {path} at frame 6: corrupt data (Invalid data found when processing input)"
    assert len(frames) == 6


def test_first_frame_past_the_end_of_raw_file(tmp_path):
    path = tmp_path / "clip_16x8.yuv"
    path.write_bytes(bytes(192 * 3))
    expect(f"cannot read {path} at frame 3: the video has only 3 frames", path, first=3)


def test_bad_y4m_size(tmp_path):
    path = tmp_path / "bad.y4m"
    path.write_bytes(b"YUV4MPEG2 W16x H8 C420jpeg\nFRAME\n")
    expect(f"cannot read {path} at frame 0: bad Y4M frame size W16x H8", path)


def test_empty_or_huge_frame_sizes_are_refused_before_reading(tmp_path):
    """Found by benchmarks/fuzz.py: W0 yielded empty frames; a huge W x H must not make read() allocate it."""
    path = tmp_path / "zero.y4m"
    path.write_bytes(b"YUV4MPEG2 W0 H8 C420jpeg\nFRAME\n")
    expect(f"cannot read {path} at frame 0: bad Y4M frame size W0 H8", path)
    path = tmp_path / "huge.y4m"
    path.write_bytes(b"YUV4MPEG2 W99999999 H99999999 C420jpeg\nFRAME\n" + bytes(100))
    expect(f"cannot read {path} at frame 0: truncated frame: expected 14999999800000001 bytes, got 100", path)
    raw = tmp_path / "clip_0x8.yuv"
    raw.write_bytes(bytes(10))
    expect(f"cannot read {raw} at frame 0: frame size 0x8 is empty", raw)
