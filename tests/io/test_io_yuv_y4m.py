"""Raw YUV and Y4M: exact round trips at 8 and 10 bit, frame ranges, and the shared CIF sequence."""

import numpy as np
import pytest

from tests.conftest import shared_file
from vidquant.io import Frame, Y4mReader, open_video, open_writer


def random_video(frames, width, height, bit_depth, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    peak = (1 << bit_depth) - 1
    cw, ch = (width + 1) // 2, (height + 1) // 2
    return [
        Frame(rng.integers(0, peak + 1, (height, width)).astype(dtype),
              rng.integers(0, peak + 1, (ch, cw)).astype(dtype),
              rng.integers(0, peak + 1, (ch, cw)).astype(dtype), bit_depth)
        for _ in range(frames)
    ]


def assert_same(frames_a, frames_b):
    assert len(frames_a) == len(frames_b)
    for a, b in zip(frames_a, frames_b):
        assert a.bit_depth == b.bit_depth
        for pa, pb in zip(a.planes, b.planes):
            assert pa.dtype == pb.dtype
            np.testing.assert_array_equal(pa, pb)


def write(path, frames):
    with open_writer(path, frames[0].width, frames[0].height, frames[0].bit_depth) as writer:
        for frame in frames:
            writer.write(frame)


@pytest.mark.parametrize("bit_depth", [8, 10])
def test_y4m_round_trip_is_exact(tmp_path, bit_depth):
    frames = random_video(5, 34, 18, bit_depth)
    path = tmp_path / "clip.y4m"
    write(path, frames)
    reader = open_video(path)
    assert isinstance(reader, Y4mReader)
    assert reader.fmt.bit_depth == bit_depth and (reader.width, reader.height) == (34, 18)
    assert_same(frames, list(reader))
    if bit_depth == 10:
        assert path.read_bytes().startswith(b"YUV4MPEG2 W34 H18 F25:1 Ip A1:1 C420p10")


@pytest.mark.parametrize("bit_depth, pix_fmt", [(8, "yuv420p"), (10, "yuv420p10le")])
def test_raw_round_trip_and_little_endian_samples(tmp_path, bit_depth, pix_fmt):
    frames = random_video(4, 20, 10, bit_depth)
    path = tmp_path / "clip_20x10.yuv"
    write(path, frames)
    assert_same(frames, list(open_video(path, pix_fmt=pix_fmt)))
    if bit_depth == 10:
        first_sample = int(frames[0].y[0, 0])
        assert path.read_bytes()[:2] == bytes([first_sample & 0xFF, first_sample >> 8])


@pytest.mark.parametrize("suffix", [".yuv", ".y4m"])
def test_frame_range_selection(tmp_path, suffix):
    frames = random_video(6, 16, 8, 8)
    path = tmp_path / f"clip{suffix}"
    write(path, frames)
    assert_same(frames[2:5], list(open_video(path, size=(16, 8), first=2, count=3)))
    assert_same(frames[4:], list(open_video(path, size="16x8", first=4)))


def test_odd_frame_size_round_trip(tmp_path):
    frames = random_video(2, 15, 9, 8)
    path = tmp_path / "odd.y4m"
    write(path, frames)
    assert frames[0].u.shape == (5, 8)
    assert_same(frames, list(open_video(path)))


def test_shared_cif_yuv_reads_with_size_from_name(tmp_path):
    path = shared_file("data/video/yuv/foreman_352x288_8f.yuv")
    frames = list(open_video(path))
    assert len(frames) == 8 and (frames[0].width, frames[0].height) == (352, 288)
    y4m = tmp_path / "foreman.y4m"
    write(y4m, frames)
    assert_same(frames, list(open_video(y4m)))


@pytest.mark.parametrize("suffix", [".yuv", ".y4m", ".mkv"])
@pytest.mark.parametrize("bit_depth, chroma_shift", [(8, 1), (10, 1), (8, 0), (10, 0)])
def test_writers_round_trip_420_and_444_exactly(tmp_path, suffix, bit_depth, chroma_shift):
    rng = np.random.default_rng(bit_depth + chroma_shift)
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    chroma = (18, 34) if chroma_shift == 0 else (9, 17)
    frames = [Frame(rng.integers(0, 1 << bit_depth, (18, 34)).astype(dtype),
                    *(rng.integers(0, 1 << bit_depth, chroma).astype(dtype) for _ in range(2)), bit_depth)
              for _ in range(3)]
    path = tmp_path / f"clip_34x18_{frames[0].fmt.name}{suffix}"  # a raw file's name states its format
    with open_writer(path, 34, 18, bit_depth, chroma_shift=chroma_shift) as writer:
        for frame in frames:
            writer.write(frame)
    back = list(open_video(path))
    assert len(back) == 3 and back[0].fmt == frames[0].fmt
    assert all(np.array_equal(a, b) for f, g in zip(frames, back) for a, b in zip(f.planes, g.planes))
