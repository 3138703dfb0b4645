"""Encode -> bytes -> decode reproduces the encoder's reconstruction exactly (I and P frames)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

from tests.codec.codec_helpers import moving_frames, synthetic_codec
from tests.conftest import shared_file
from vidquant.deploy.bitstream import Bitstream, CodedFrame
from vidquant.errors import VidquantError
from vidquant.models.codec.coding.pipeline import (
    EncodeSettings,
    decode_video,
    differing_samples,
    encode_video,
)
from vidquant.models.codec.coding.sequence import tensor_to_yuv420
from vidquant.models.codec.coding.yuvfile import read_yuv420

RATE_POINTS = (0, 21, 42, 63)


def _round_trip(codec, frames, qp, reset_interval=2):
    result = encode_video(codec, frames, EncodeSettings(qp, qp, reset_interval=reset_interval))
    decoded = list(decode_video(codec, Bitstream.from_bytes(result.bitstream.to_bytes())))
    return result, decoded


def _cropped(path, width, height, crop, count=3):
    frames = read_yuv420(path, width, height, count)
    return [(y[: crop[1], : crop[0]], u[: crop[1] // 2, : crop[0] // 2], v[: crop[1] // 2, : crop[0] // 2]) for y, u, v in frames]


@pytest.fixture(scope="module")
def small_codec():
    torch.set_num_threads(1)
    return synthetic_codec()


@pytest.mark.parametrize("qp", RATE_POINTS)
def test_synthetic_sequence_decodes_exactly(small_codec, qp):
    result, decoded = _round_trip(small_codec, moving_frames(4, 48, 80), qp)
    assert [f.kind for f in result.bitstream.frames] == ["I", "P", "P", "P"]
    assert differing_samples(result.recons, decoded) == 0


@pytest.mark.parametrize(
    "name, size, crop",
    [("cars_128x96_60f.yuv", (128, 96), (120, 90)), ("ciscovt2people_160x96_5f.yuv", (160, 96), (160, 96))],
)
def test_real_sequences_decode_exactly_at_four_rate_points(small_codec, name, size, crop):
    frames = _cropped(shared_file(f"data/video/yuv/{name}"), *size, crop)
    for qp in RATE_POINTS:
        result, decoded = _round_trip(small_codec, frames, qp)
        assert differing_samples(result.recons, decoded) == 0
        assert tensor_to_yuv420(decoded[-1], crop[1], crop[0])[0].shape == (crop[1], crop[0])


def test_full_size_preset_decodes_exactly():
    codec = synthetic_codec("dcvc-rt")
    result, decoded = _round_trip(codec, moving_frames(2, 32, 48), 42)
    assert differing_samples(result.recons, decoded) == 0


def test_decoder_refuses_other_weights(small_codec):
    result = encode_video(small_codec, moving_frames(1, 32, 32), EncodeSettings(10, 10))
    other = synthetic_codec()
    with torch.no_grad():
        other.video.q_recon.add_(1.0)
    with pytest.raises(VidquantError, match="another decoder"):
        list(decode_video(other, result.bitstream))


def test_garbage_payload_with_valid_checksum_fails_or_finishes(small_codec):
    result = encode_video(small_codec, moving_frames(2, 32, 32), EncodeSettings(30, 30))
    frames = result.bitstream.frames
    garbage = bytes(np.random.default_rng(1).integers(0, 256, len(frames[1].payload) - 4, dtype=np.uint8))
    result.bitstream.frames = [frames[0], CodedFrame("P", frames[1].qp, False, garbage)]
    data = Bitstream.from_bytes(result.bitstream.to_bytes())  # checksum is recomputed on write
    try:
        decoded = list(decode_video(small_codec, data))
    except VidquantError as error:
        assert "frame 1" in str(error)
    else:
        assert len(decoded) == 2
    assert zlib.crc32(garbage) == zlib.crc32(data.frames[1].payload)


def test_thread_count_does_not_change_the_stream(small_codec):
    frames = moving_frames(2, 32, 64)
    torch.set_num_threads(2)
    try:
        result = encode_video(small_codec, frames, EncodeSettings(40, 40))
        assert torch.get_num_threads() == 2  # restored after coding
    finally:
        torch.set_num_threads(1)
    decoded = list(decode_video(small_codec, Bitstream.from_bytes(result.bitstream.to_bytes())))
    assert differing_samples(result.recons, decoded) == 0


def test_z_tables_are_computed_once_per_row_and_follow_weight_changes():
    """The z PMF table was recomputed at every frame; it is cached while the estimator is unchanged."""
    from vidquant.models.codec.net import frame_coder
    from vidquant.models.codec.net.entropy_models import z_probabilities

    estimator = synthetic_codec().image.bit_estimator_z
    first = frame_coder.z_table(estimator, 5)
    assert frame_coder.z_table(estimator, 5) is first
    with torch.no_grad():
        estimator.f1.h.add_(0.01)
    changed = frame_coder.z_table(estimator, 5)
    assert changed is not first
    np.testing.assert_array_equal(changed, z_probabilities(estimator, 5, estimator.f1.h.shape[1]))
