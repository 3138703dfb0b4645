"""dynamic-int8 inputs with one run-time range per GEMM row: error bounds, layer choice, ONNX parity."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from tests.conftest import shared_file
from vidquant.export import export_onnx
from vidquant.models.uvq.calibration import calibration_frames
from vidquant.models.uvq.dynamic import dynamic_uint8, install_row_dynamic, row_dims
from vidquant.quant import quantize
from vidquant.runtime import OrtModel


def test_per_pixel_ranges_bound_each_pixels_error_by_its_own_step() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 16, 5, 5) * torch.logspace(-3, 1, 25).reshape(1, 1, 5, 5)  # pixels of very different size
    q = dynamic_uint8(x, (1,))
    span = x.amax(1, keepdim=True).clamp(min=0) - x.amin(1, keepdim=True).clamp(max=0)
    assert bool(((q - x).abs() <= span / 255 * 0.51).all())
    per_tensor = dynamic_uint8(x, (1, 2, 3))
    assert float((q - x).abs().mean()) < 0.2 * float((per_tensor - x).abs().mean())


def test_row_dims_follow_what_the_dot_product_sums_over() -> None:
    assert row_dims(nn.Conv2d(8, 4, 1)) == (1,)
    assert row_dims(nn.Conv2d(8, 8, 3, groups=8)) == (2, 3)
    assert row_dims(nn.Conv2d(3, 8, 3)) == (1, 2, 3)
    assert row_dims(nn.Linear(4, 2)) == (-1,)


def test_grid_aligned_frames_avoid_rounding_ties() -> None:
    pixels = torch.arange(256, dtype=torch.float64)
    x = ((pixels / 255 - 0.5) * 2).float().reshape(1, 1, 16, 16)
    scale = (2.0 * (1 + 2**-10) / 255)
    fraction = (x / scale).double() + round(1 / scale)
    distance = (fraction - fraction.floor() - 0.5).abs()
    assert float(distance.min()) > 1e-4  # far from a tie compared to last-bit differences
    assert float((dynamic_uint8(x, (1, 2, 3)) - x).abs().max()) <= scale * 0.5 + 1e-7


def test_onnx_graph_matches_pytorch(tmp_path) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.SiLU(), nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.SiLU(),
                        nn.Conv2d(8, 4, 1)).eval()
    model = quantize(net, "dynamic-int8")
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    model(x)
    assert install_row_dynamic(model) == 3
    result = export_onnx(model, [x], tmp_path / "m.onnx", dynamic_path="qdq")
    with torch.no_grad():
        expected = model(x)
    got = OrtModel(result.path, threads=1)(x)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_calibration_frames_read_short_clips_and_raw_yuv() -> None:
    clip = shared_file("data/video/h264/two_people_test_vd_rc.264")  # 9 frames: too short to score
    yuv = shared_file("data/video/yuv/ciscovt2people_160x96_5f.yuv")
    frames = calibration_frames([clip, yuv], per_clip=3)
    assert frames.shape == (6, 3, 1080, 1920)
    assert float(frames.min()) >= -1 and float(frames.max()) <= 1 and float(frames.std()) > 0.05
