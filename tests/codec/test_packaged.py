"""The shipped dcvc-rt-small weights: present, small, loadable, and ordered by qp."""

from __future__ import annotations

import torch

from tests.codec.codec_helpers import moving_frames
from vidquant.models import create_model
from vidquant.models.codec import packaged_weights
from vidquant.models.codec.coding.pipeline import EncodeSettings, encode_video
from vidquant.models.codec.coding.sequence import psnr_yuv420

MAX_BYTES = 10 * 1024 * 1024


def test_weights_are_shipped_and_small():
    paths = packaged_weights("dcvc-rt-small")
    assert paths is not None
    assert sum(p.stat().st_size for p in paths) <= MAX_BYTES


def test_rate_and_quality_grow_with_qp():
    torch.set_num_threads(1)
    codec = create_model("dcvc-rt-small")
    assert codec.weights_loaded
    frames = moving_frames(1, 64, 64)
    points = []
    for qp in (0, 21, 42, 63):
        result = encode_video(codec, frames, EncodeSettings(qp, qp))
        psnr = psnr_yuv420(result.recons[0][:, :, :64, :64], *frames[0])[0]
        points.append((result.stats[0].bytes, psnr))
    assert [b for b, _ in points] == sorted(b for b, _ in points)
    assert points[-1][1] > points[0][1]
