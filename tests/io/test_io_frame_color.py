"""Frame helpers, names with sizes, and colour conversion checked against FFmpeg's swscale."""

import av
import numpy as np
import pytest
import torch

from vidquant.errors import VidquantError
from vidquant.io import ColorSpec, Frame, frame_to_rgb, parse_size, rgb_to_frame, rgb_to_yuv444, size_from_name
from vidquant.io.color import yuv444_to_rgb
from vidquant.io.frame import PIXEL_FORMATS


@pytest.mark.parametrize(
    "name, size",
    [("park_ref_160x90_48f.yuv", (160, 90)), ("BQTerrace_1920x1080_60.yuv", (1920, 1080)),
     ("clip-352x288.yuv", (352, 288)), ("foreman.yuv", None), ("x1920x1080y.yuv", None)],
)
def test_size_from_name(name, size):
    assert size_from_name(name) == size


def test_parse_size_rejects_bad_text():
    assert parse_size("352x288") == parse_size(" 352X288 ") == (352, 288)
    with pytest.raises(VidquantError, match=r"^size '352-288' is not WIDTHxHEIGHT \(e.g. 352x288\)$"):
        parse_size("352-288")
    with pytest.raises(VidquantError, match="is not WIDTHxHEIGHT"):
        parse_size("0x288")


def test_frame_bytes_for_8_and_10_bit():
    assert PIXEL_FORMATS["yuv420p"].frame_bytes(160, 90) == 21600
    assert PIXEL_FORMATS["yuv420p10le"].frame_bytes(160, 90) == 43200


def test_tensor_round_trip_is_exact_for_10_bit():
    rng = np.random.default_rng(1)
    planes = [rng.integers(0, 1024, s, dtype=np.uint16) for s in ((8, 12), (4, 6), (4, 6))]
    frame = Frame(*planes, bit_depth=10)
    y, u, v = frame.to_tensor()
    assert y.shape == (1, 1, 8, 12) and u.dtype == torch.float32 and float(y.max()) <= 1.0
    back = Frame.from_tensor(y, u, v, bit_depth=10)
    for a, b in zip(frame.planes, back.planes):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("matrix, rgb, yuv", [
    ("bt709", (255, 0, 0), (63, 102, 240)),
    ("bt601", (255, 0, 0), (81, 90, 240)),
    ("bt709", (255, 255, 255), (235, 128, 128)),
    ("bt601", (0, 0, 0), (16, 128, 128)),
])
def test_limited_range_reference_values(matrix, rgb, yuv):
    pixel = np.array(rgb, dtype=np.uint8).reshape(1, 1, 3)
    got = [int(np.rint(p[0, 0])) for p in rgb_to_yuv444(pixel, 8, ColorSpec(matrix))]
    assert got == list(yuv)


@pytest.mark.parametrize("matrix, swscale_name", [("bt601", "ITU601"), ("bt709", "ITU709")])
@pytest.mark.parametrize("full_range", [False, True])
def test_rgb_to_yuv_matches_swscale(matrix, swscale_name, full_range):
    rgb = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    ffmpeg = frame.reformat(format="yuv444p", dst_colorspace=swscale_name,
                            dst_color_range="JPEG" if full_range else "MPEG").to_ndarray()
    ours = np.rint(np.stack(rgb_to_yuv444(rgb, 8, ColorSpec(matrix, full_range))))
    assert np.abs(ours - ffmpeg).max() <= 1  # swscale works in fixed point


@pytest.mark.parametrize("bit_depth", [8, 10])
@pytest.mark.parametrize("spec", [ColorSpec("bt709"), ColorSpec("bt601", full_range=True)])
def test_yuv444_rgb_round_trip(bit_depth, spec):
    peak = (1 << bit_depth) - 1
    rgb = np.random.default_rng(3).integers(0, peak + 1, (8, 8, 3))
    back = yuv444_to_rgb(*rgb_to_yuv444(rgb, bit_depth, spec), bit_depth, spec)
    np.testing.assert_allclose(back, rgb, atol=1e-9)


def test_rgb_frame_keeps_source_and_flat_colour_survives_420():
    rgb = np.full((6, 8, 3), (200, 50, 10), dtype=np.uint8)
    frame = rgb_to_frame(rgb, 8, ColorSpec("bt709", full_range=True))
    assert frame.u.shape == (3, 4) and frame.rgb is rgb
    assert np.abs(frame_to_rgb(frame, ColorSpec("bt709", full_range=True)).astype(int) - rgb).max() <= 1


def test_unknown_matrix_is_rejected():
    with pytest.raises(VidquantError, match=r"^unknown colour matrix 'bt2020' \(valid: bt601, bt709\)$"):
        ColorSpec("bt2020")
