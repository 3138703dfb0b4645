"""PyAV decoding (H.264 conformance stream, freshly encoded mp4) and PNG sequences."""

import av
import numpy as np
import pytest

from tests.conftest import shared_file
from vidquant.io import AvReader, ColorSpec, PngSequenceReader, open_video
from vidquant.io.color import rgb_to_yuv444, downsample_420


def encode(path, frames_rgb, codec="libx264", pix_fmt="yuv420p", **options):
    """Encode RGB frames with FFmpeg through PyAV (a real encoder, not a stand-in)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height = frames_rgb[0].shape[1], frames_rgb[0].shape[0]
        stream.pix_fmt = pix_fmt
        stream.options = options
        for rgb in frames_rgb:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def gradient_frames(count, width=64, height=48):
    x = np.linspace(0, 255, width)[None, :, None]
    y = np.linspace(0, 255, height)[:, None, None]
    return [np.broadcast_to((x + y + 8 * i) % 256, (height, width, 3)).astype(np.uint8) for i in range(count)]


def test_h264_conformance_stream_has_299_cif_frames():
    path = shared_file("data/video/h264/foreman_cif_BA1_FT_C.264")
    reader = open_video(path)
    assert isinstance(reader, AvReader)
    count = 0
    for frame in reader:
        assert (frame.width, frame.height, frame.bit_depth) == (352, 288, 8)
        assert frame.u.shape == (144, 176)
        count += 1
    assert count == 299


def test_mp4_frame_count_and_range(tmp_path):
    path = tmp_path / "clip.mp4"
    encode(path, gradient_frames(12), crf="18")
    assert sum(1 for _ in open_video(path)) == 12
    picked = list(open_video(path, first=3, count=4))
    all_frames = list(open_video(path))
    assert len(picked) == 4
    np.testing.assert_array_equal(picked[0].y, all_frames[3].y)


def test_10_bit_hevc_decodes_to_16_bit_samples(tmp_path):
    path = tmp_path / "clip10.mkv"
    encode(path, gradient_frames(3), codec="libx265", pix_fmt="yuv420p10le", x265_params="log-level=none")
    frames = list(open_video(path))
    assert len(frames) == 3
    assert frames[0].bit_depth == 10 and frames[0].y.dtype == np.uint16 and frames[0].y.max() > 255


def test_444_input_keeps_its_chroma_and_other_formats_are_converted_with_a_note(tmp_path):
    path = tmp_path / "clip444.mkv"
    encode(path, gradient_frames(2), codec="ffv1", pix_fmt="yuv444p10le")
    reader = open_video(path)
    frame = next(iter(reader))
    assert frame.u.shape == (48, 64) and frame.bit_depth == 10 and frame.fmt.name == "yuv444p10le"
    assert reader.notes == []
    path = tmp_path / "clip422.mkv"
    encode(path, gradient_frames(2), codec="ffv1", pix_fmt="yuv422p")
    reader = open_video(path)
    frame = next(iter(reader))
    assert frame.u.shape == (24, 32) and frame.bit_depth == 8
    assert reader.notes == ["clip422.mkv: yuv422p converted to yuv420p by FFmpeg; metrics are of the converted planes"]


def write_pngs(folder, frames_rgb):
    folder.mkdir()
    for i, rgb in enumerate(frames_rgb, start=1):
        encode(folder / f"im{i:05d}.png", [rgb], codec="png", pix_fmt="rgb24")


def test_png_folder_and_pattern(tmp_path):
    frames = gradient_frames(4, 32, 16)
    write_pngs(tmp_path / "seq", frames)
    from_folder = list(open_video(tmp_path / "seq"))
    from_pattern = list(open_video(tmp_path / "seq" / "im%05d.png", first=1, count=2))
    assert len(from_folder) == 4 and len(from_pattern) == 2
    np.testing.assert_array_equal(from_folder[2].rgb, frames[2])
    np.testing.assert_array_equal(from_pattern[0].rgb, frames[1])
    y, u, _ = rgb_to_yuv444(frames[0], 8, ColorSpec("bt709", full_range=True))
    np.testing.assert_array_equal(from_folder[0].y, np.rint(y).astype(np.uint8))
    np.testing.assert_array_equal(from_folder[0].u, np.rint(downsample_420(u)).astype(np.uint8))


def test_png_reader_is_lazy(tmp_path):
    write_pngs(tmp_path / "seq", gradient_frames(3, 16, 16))
    reader = PngSequenceReader(tmp_path / "seq")
    (tmp_path / "seq" / "im00003.png").write_bytes(b"not a png")  # corrupt after opening: only frame 2 fails
    frames = iter(reader)
    assert next(frames).rgb is not None and next(frames).rgb is not None
    with pytest.raises(Exception, match="at frame 2"):
        next(frames)


def test_single_png_file_and_rgb_psnr(tmp_path):
    from vidquant.metrics import compare_frames, rgb_psnr

    frames = gradient_frames(2, 32, 16)
    write_pngs(tmp_path / "seq", frames)
    [single] = list(open_video(tmp_path / "seq" / "im00002.png"))
    np.testing.assert_array_equal(single.rgb, frames[1])
    write_pngs(tmp_path / "reversed", frames[::-1])
    result = compare_frames(open_video(tmp_path / "seq"), open_video(tmp_path / "reversed" / "im*.png"),
                            with_ssim=False)
    assert [f.psnr_rgb for f in result.frames] == [rgb_psnr(frames[0], frames[1]), rgb_psnr(frames[1], frames[0])]
