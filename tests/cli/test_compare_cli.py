"""``vidquant compare``: the park acceptance pair, JSON output, and partial results on corrupt input."""

import json
import re

import numpy as np
import pytest

from tests.conftest import shared_file
from vidquant.cli.main import main
from vidquant.errors import VidquantError
from vidquant.io import Frame, open_video, open_writer
from vidquant.metrics import PSNR_CAP


def test_park_pair_mean_y_psnr(tmp_path, capsys):
    ref = shared_file("data/vqa/park_ref_160x90_48f.yuv")
    dis = shared_file("data/vqa/park_dis_160x90_48f.yuv")
    out = tmp_path / "park.json"
    assert main(["compare", str(ref), str(dis), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["frames_compared"] == 48 and len(report["frames"]) == 48
    # The published 37.3 dB is the PSNR of the sequence MSE (FFmpeg psnr filter convention).
    assert report["pooled"]["psnr_y"] == pytest.approx(37.3, abs=0.05)
    assert report["mean"]["psnr_y"] == pytest.approx(np.mean([f["psnr_y"] for f in report["frames"]]))
    assert report["ms_ssim_scales"] == 4 and 0.9 < report["mean"]["ms_ssim_y"] < 1
    printed = capsys.readouterr().out
    assert "pooled MSE: PSNR y=37.298" in printed and "MS-SSIM used 4 scales" in printed


def write_clip(path, count=8, offset=0):
    rng = np.random.default_rng(0)
    with open_writer(path, 32, 16) as writer:
        for _ in range(count):
            y = rng.integers(0, 250, (16, 32), dtype=np.uint8)
            writer.write(Frame(y + offset, y[::2, ::2] + offset, y[1::2, 1::2].copy()))


def test_compare_raw_against_y4m_with_size_flag(tmp_path, capsys):
    write_clip(tmp_path / "ref.yuv")
    write_clip(tmp_path / "dis.y4m", offset=2)
    out = tmp_path / "r.json"
    assert main(["compare", str(tmp_path / "ref.yuv"), str(tmp_path / "dis.y4m"), "--size", "32x16",
                 "--no-ssim", "--per-frame", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    expected = 10 * np.log10(255**2 / 4)
    assert report["mean"]["psnr_y"] == pytest.approx(expected)
    assert report["mean"]["psnr_v"] == PSNR_CAP and report["mean"]["ssim_y"] is None
    assert len(re.findall(r"^frame \d+: PSNR y=42.110 ", capsys.readouterr().out, re.M)) == 8


def test_corrupt_frame_in_middle_reports_partial_results(tmp_path, capsys):
    write_clip(tmp_path / "ref.y4m")
    write_clip(tmp_path / "dis.y4m", offset=1)
    data = bytearray((tmp_path / "dis.y4m").read_bytes())
    sixth = [m.start() for m in re.finditer(b"FRAME\n", bytes(data))][5]
    data[sixth:sixth + 5] = b"JUNK!"
    (tmp_path / "dis.y4m").write_bytes(bytes(data))
    out = tmp_path / "r.json"
    assert main(["compare", str(tmp_path / "ref.y4m"), str(tmp_path / "dis.y4m"), "--json", str(out)]) == 2
    captured = capsys.readouterr()
    error = f"cannot read {tmp_path / 'dis.y4m'} at frame 5: bad Y4M frame header b'JUNK!\\n'"
    assert captured.err.splitlines()[-1] == (f"vidquant compare: error: {error} "
                                    f"(results above cover the 5 frames before it)")
    assert "frames compared: 5" in captured.out
    report = json.loads(out.read_text())
    assert report["frames_compared"] == 5 and report["error"] == error


def test_missing_input_is_one_line(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"vidquant compare: error: cannot read {tmp_path / 'a.mp4'} at frame 0: no such file"


def _write_10bit(path, offset=0):
    rng = np.random.default_rng(1)
    with open_writer(path, 32, 16, bit_depth=10) as writer:
        for _ in range(2):
            y = rng.integers(0, 1000, (16, 32)).astype(np.uint16)
            writer.write(Frame(y + offset, y[::2, ::2] + offset, y[1::2, 1::2].copy(), bit_depth=10))


def test_a_format_named_in_the_file_is_read_as_that_format(tmp_path):
    """A raw file named ..._yuv420p10le_... was read as 8-bit unless --pix-fmt was given."""
    ref, dis = tmp_path / "a_32x16_yuv420p10le.yuv", tmp_path / "b_32x16_yuv420p10le.yuv"
    _write_10bit(ref)
    _write_10bit(dis, offset=3)
    reports = []
    for extra in ([], ["--pix-fmt", "yuv420p10le"]):
        out = tmp_path / f"r{len(extra)}.json"
        assert main(["compare", str(ref), str(dis), "--no-ssim", "--json", str(out), *extra]) == 0
        reports.append(json.loads(out.read_text())["mean"])
    assert reports[0] == reports[1]
    assert reports[0]["psnr_y"] == pytest.approx(10 * np.log10(1023**2 / 9))


def test_a_named_format_or_size_that_is_unsupported_or_contradicted_is_an_error(tmp_path, capsys):
    write_clip(tmp_path / "c_32x16_yuv422p.yuv")
    assert main(["compare", str(tmp_path / "c_32x16_yuv422p.yuv"), str(tmp_path / "c_32x16_yuv422p.yuv")]) == 2
    assert "pixel format yuv422p (from the file name) is not supported" in capsys.readouterr().err
    _write_10bit(tmp_path / "d_32x16_yuv420p10le.yuv")
    clip = str(tmp_path / "d_32x16_yuv420p10le.yuv")
    assert main(["compare", clip, clip, "--pix-fmt", "yuv420p"]) == 2
    assert "--pix-fmt yuv420p contradicts the yuv420p10le in the file name" in capsys.readouterr().err
    assert main(["compare", clip, clip, "--size", "16x32"]) == 2
    assert "size 16x32 contradicts the 32x16 in the file name" in capsys.readouterr().err.splitlines()[-1]
    assert main(["compare", clip, clip, "--size", "32x16", "--pix-fmt", "yuv420p10le", "--no-ssim"]) == 0


def _write_444(path, bit_depth, chroma_offset=0):
    """Two 4:4:4 frames whose chroma differs only on odd columns (invisible after 2x2 averaging
    would halve it): native-resolution U/V PSNR differs from a 4:2:0-converted one."""
    rng = np.random.default_rng(2)
    peak = (1 << bit_depth) - 1
    with open_writer(path, 32, 16, bit_depth=bit_depth, chroma_shift=0) as writer:
        for _ in range(2):
            y = rng.integers(0, peak - 8, (16, 32)).astype(np.uint16 if bit_depth > 8 else np.uint8)
            u = y.copy()
            u[:, 1::2] += chroma_offset
            writer.write(Frame(y, u, y.copy(), bit_depth=bit_depth))


@pytest.mark.parametrize("pix_fmt, bit_depth", [("yuv444p", 8), ("yuv444p10le", 10)])
def test_yuv444_pairs_give_native_resolution_chroma_psnr(tmp_path, capsys, pix_fmt, bit_depth):
    ref, dis = tmp_path / f"r_32x16_{pix_fmt}.yuv", tmp_path / f"d_32x16_{pix_fmt}.yuv"
    _write_444(ref, bit_depth)
    _write_444(dis, bit_depth, chroma_offset=4)
    out = tmp_path / "r.json"
    assert main(["compare", str(ref), str(dis), "--no-ssim", "--json", str(out)]) == 0
    mean = json.loads(out.read_text())["mean"]
    peak = (1 << bit_depth) - 1
    assert mean["psnr_u"] == pytest.approx(10 * np.log10(peak**2 / 8))  # half the samples off by 4: MSE 8
    assert mean["psnr_y"] == PSNR_CAP and mean["psnr_v"] == PSNR_CAP
    frame = next(iter(open_video(ref)))
    assert frame.u.shape == (16, 32) and frame.fmt.name == pix_fmt
    y4m = tmp_path / "r.y4m"  # the same frames through Y4M (C444 / C444p10)
    with open_writer(y4m, 32, 16, bit_depth=bit_depth, chroma_shift=0) as writer:
        for f in open_video(ref):
            writer.write(f)
    assert main(["compare", str(ref), str(y4m), "--no-ssim", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["mean"]["psnr_u"] == PSNR_CAP
    write_clip(tmp_path / "c420_32x16.yuv")
    assert main(["compare", str(ref), str(tmp_path / "c420_32x16.yuv"), "--no-ssim"]) == 2
    words = "chroma planes differ: 32x16 vs 16x8" if bit_depth == 8 else "bit depths differ: 10 vs 8"
    assert words in capsys.readouterr().err.splitlines()[-1]


def test_a_444_frame_is_not_written_as_420(tmp_path):
    frame = next(iter(open_video(_write_444_path(tmp_path))))
    with pytest.raises(VidquantError, match="cannot write a 4:4:4 frame as yuv420p"):
        with open_writer(tmp_path / "x.yuv", 32, 16) as writer:
            writer.write(frame)


def _write_444_path(tmp_path):
    path = tmp_path / "s_32x16_yuv444p.yuv"
    _write_444(path, 8)
    return path


def test_converted_chroma_is_said_in_the_output(tmp_path, capsys):
    from tests.io.test_io_av_png import encode, gradient_frames

    path = tmp_path / "clip422.mkv"
    encode(path, gradient_frames(2), codec="ffv1", pix_fmt="yuv422p")
    assert main(["compare", str(path), str(path), "--no-ssim"]) == 0
    assert "note: clip422.mkv: yuv422p converted to yuv420p by FFmpeg" in capsys.readouterr().out
