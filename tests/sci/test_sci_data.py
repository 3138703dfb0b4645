"""Reading grayscale clips (raw .yuv, PyAV-decoded files) and sampling training crops."""

from __future__ import annotations

import av
import numpy as np
import pytest
import torch

from vidquant.errors import VidquantError
from vidquant.models.sci.data import CropSampler, find_clips, read_luma


def _write_yuv(path, frames: np.ndarray) -> None:
    """I420 with the given Y planes and flat chroma."""
    n, h, w = frames.shape
    chroma = np.full((h // 2) * (w // 2) * 2, 128, np.uint8)
    with open(path, "wb") as handle:
        for frame in frames:
            handle.write(frame.tobytes() + chroma.tobytes())


def test_yuv_luma_is_the_y_plane(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (3, 6, 8), dtype=np.uint8)
    path = tmp_path / "clip_8x6_3f.yuv"
    _write_yuv(path, frames)
    assert np.array_equal(read_luma(path), frames)
    assert read_luma(path, max_frames=2).shape == (2, 6, 8)


def test_yuv_without_size_in_name_fails(tmp_path):
    (tmp_path / "clip.yuv").write_bytes(b"\0" * 72)
    with pytest.raises(VidquantError, match="frame size"):
        read_luma(tmp_path / "clip.yuv")


def test_pyav_decoded_clip_is_gray(tmp_path):
    path = tmp_path / "ramp.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for value in (60, 120, 180):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), value, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    luma = read_luma(path)
    assert luma.shape == (3, 32, 32) and luma.dtype == np.uint8
    assert np.all(np.diff(luma.reshape(3, -1).mean(axis=1)) > 40)  # brightness order kept


def test_find_clips_refuses_benchmark_files(tmp_path):
    with pytest.raises(VidquantError, match="benchmark"):
        find_clips([tmp_path / "drop40_cacti.mat"])
    with pytest.raises(VidquantError, match="no video clips"):
        find_clips([tmp_path])


def test_crop_sampler_shapes_and_range():
    clips = [np.random.default_rng(1).integers(0, 256, (10, 40, 50), dtype=np.uint8)]
    sampler = CropSampler(clips, frames=8, generator=torch.Generator().manual_seed(0))
    batch = sampler.batch(3, 16)
    assert batch.shape == (3, 8, 16, 16)
    assert 0.0 <= batch.min() and batch.max() <= 1.0
    with pytest.raises(VidquantError, match="larger"):
        sampler.batch(1, 48)
    with pytest.raises(VidquantError, match="frames"):
        CropSampler(clips, frames=12, generator=torch.Generator())
