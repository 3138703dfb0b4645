"""``vidquant codec`` sub-commands end to end on tiny files (synthetic weights)."""

from __future__ import annotations

import json

import numpy as np

from tests.codec.codec_helpers import moving_frames
from vidquant.cli.main import main
from vidquant.models.codec.coding.yuvfile import read_yuv420, write_video


def _video(tmp_path, count=3):
    path = tmp_path / "clip_48x32.yuv"
    write_video(path, moving_frames(count, 32, 48))
    return path


def test_encode_decode_round_trip(tmp_path, capsys):
    video = _video(tmp_path)
    stream, recon, out = tmp_path / "s.bin", tmp_path / "enc.yuv", tmp_path / "dec.yuv"
    assert main(["codec", "encode", str(video), "-o", str(stream), "--qp", "30", "--synthetic", "--recon", str(recon)]) == 0
    assert main(["codec", "decode", str(stream), "-o", str(out), "--synthetic"]) == 0
    assert recon.read_bytes() == out.read_bytes()
    decoded = list(read_yuv420(out, 48, 32))
    assert len(decoded) == 3 and decoded[0][0].shape == (32, 48)
    assert "3 frames 48x32" in capsys.readouterr().out


def test_y4m_output_has_header(tmp_path):
    video = _video(tmp_path, 1)
    stream, out = tmp_path / "s.bin", tmp_path / "dec.y4m"
    main(["codec", "encode", str(video), "-o", str(stream), "--qp", "5", "--synthetic"])
    assert main(["codec", "decode", str(stream), "-o", str(out), "--synthetic"]) == 0
    assert out.read_bytes().startswith(b"YUV4MPEG2 W48 H32")


def test_truncated_stream_is_one_line_error(tmp_path, capsys):
    video = _video(tmp_path, 2)
    stream = tmp_path / "s.bin"
    main(["codec", "encode", str(video), "-o", str(stream), "--qp", "5", "--synthetic"])
    stream.write_bytes(stream.read_bytes()[:-5])
    assert main(["codec", "decode", str(stream), "-o", str(tmp_path / "x.yuv"), "--synthetic"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("vidquant codec: error:") and "frame 1" in err


def test_test_with_unreadable_weights_is_one_error_and_writes_nothing(tmp_path, capsys):
    """It used to log the same failure once per job, then write `{}` and exit 1."""
    _video(tmp_path)
    config = {"root_path": str(tmp_path), "test_classes": {"C": {"sequences": {
        "clip_48x32.yuv": {"width": 48, "height": 32, "frames": 2}}}}}
    cfg, out, bad = tmp_path / "cfg.json", tmp_path / "res.json", tmp_path / "bad.safetensors"
    cfg.write_text(json.dumps(config))
    bad.write_bytes(b"not a checkpoint")
    args = ["codec", "test", "--test_config", str(cfg), "--output_path", str(out), "--rate_num", "2",
            "--model_path_i", str(bad), "--model_path_p", str(bad)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err
    assert not out.exists()
    bad_dir = tmp_path / "bad_workers.json"
    assert main([*args[:5], str(bad_dir), *args[6:], "--worker", "2"]) == 2  # jobs in other processes
    assert "every job failed, nothing written" in capsys.readouterr().err and not bad_dir.exists()


def test_untrained_preset_without_weights_is_refused(tmp_path, capsys):
    assert main(["codec", "encode", str(_video(tmp_path, 1)), "-o", str(tmp_path / "s.bin"), "--qp", "1", "--preset", "dcvc-rt"]) == 2
    assert "no packaged weights" in capsys.readouterr().err


def test_test_harness_writes_official_schema_and_survives_failures(tmp_path):
    _video(tmp_path)
    config = {"root_path": str(tmp_path), "test_classes": {
        "C1": {"test": 1, "base_path": "", "sequences": {"clip_48x32.yuv": {"width": 48, "height": 32, "frames": 3, "intra_period": -1}}},
        "C2": {"test": 1, "base_path": "", "sequences": {
            "clip_48x32": {"width": 48, "height": 32, "frames": 2, "intra_period": -1},
            "absent_16x16.yuv": {"width": 16, "height": 16, "frames": 1, "intra_period": -1}}}}}
    cfg, out = tmp_path / "cfg.json", tmp_path / "res.json"
    cfg.write_text(json.dumps(config))
    code = main(["codec", "test", "--test_config", str(cfg), "--output_path", str(out), "--rate_num", "2", "--synthetic", "--write_stream", "1", "--stream_path", str(tmp_path / "bin")])
    assert code == 1  # the absent sequence failed, the others were written
    results = json.loads(out.read_text())
    assert set(results) == {"C1", "C2"} and set(results["C2"]) == {"clip_48x32"}
    point = results["C1"]["clip_48x32.yuv"]["001"]
    assert point["i_frame_num"] == 1 and point["p_frame_num"] == 2
    assert point["ave_all_frame_bpp"] > 0 and np.isfinite(point["ave_all_frame_psnr"])
    assert point["decoder_mismatch_samples"] == 0
    assert len(list((tmp_path / "bin").rglob("*.bin"))) == 4


def test_decode_refuses_an_output_it_cannot_write_before_decoding(tmp_path, capsys):
    """`-o x.mp4` used to receive raw I420 bytes; a missing folder failed after the whole decode."""
    video = _video(tmp_path, 1)
    stream = tmp_path / "s.bin"
    assert main(["codec", "encode", str(video), "-o", str(stream), "--qp", "5", "--synthetic"]) == 0
    capsys.readouterr()
    for out, words in ((tmp_path / "x.mp4", "write .yuv or .y4m"), (tmp_path / "no" / "x.yuv", "does not exist"),
                       (tmp_path, "is a folder")):
        assert main(["codec", "decode", str(stream), "-o", str(out), "--synthetic"]) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.mp4").exists()


def test_encode_checks_its_outputs_before_encoding(tmp_path, capsys):
    video = _video(tmp_path, 1)
    assert main(["codec", "encode", str(video), "-o", str(tmp_path / "no" / "s.bin"), "--qp", "5", "--synthetic"]) == 2
    assert "folder" in capsys.readouterr().err
    assert main(["codec", "encode", str(video), "-o", str(tmp_path / "s.bin"), "--qp", "5", "--synthetic",
                 "--recon", str(tmp_path / "r.mp4")]) == 2
    assert "--recon" in capsys.readouterr().err and not (tmp_path / "s.bin").exists()


def test_a_folder_given_as_bitstream_is_named_a_folder(tmp_path, capsys):
    assert main(["codec", "decode", str(tmp_path), "-o", str(tmp_path / "x.yuv"), "--synthetic"]) == 2
    assert f"bitstream {tmp_path} is a folder, not a file" in capsys.readouterr().err


def test_encode_converts_10_bit_and_444_input_to_8_bit_420_with_a_note(tmp_path, capsys):
    """`codec encode` of a raw 10-bit or 4:4:4 .yuv used to code garbage frames (issue #22, case 3)."""
    from vidquant.io import Frame, open_writer

    frames8 = moving_frames(2, 32, 48)
    reference = tmp_path / "ref_48x32.yuv"
    write_video(reference, frames8)
    ten, full = tmp_path / "clip_48x32_yuv420p10le.yuv", tmp_path / "clip_48x32_yuv444p.yuv"
    with open_writer(ten, 48, 32, bit_depth=10) as writer:
        for y, u, v in frames8:  # 8-bit samples << 2: converting back to 8 bit is exact
            writer.write(Frame(*(p.astype(np.uint16) << 2 for p in (y, u, v)), bit_depth=10))
    with open_writer(full, 48, 32, chroma_shift=0) as writer:
        for y, u, v in frames8:  # chroma repeated 2x2: averaging back to 4:2:0 is exact
            writer.write(Frame(y, *(np.repeat(np.repeat(p, 2, 0), 2, 1) for p in (u, v))))
    streams = []
    for video, extra in ((reference, []), (ten, []), (ten, ["--pix-fmt", "yuv420p10le"]), (full, [])):
        stream = tmp_path / f"s{len(streams)}.bin"
        assert main(["codec", "encode", str(video), "-o", str(stream), "--qp", "5", "--synthetic", *extra]) == 0
        streams.append(stream.read_bytes())
    assert streams[1:] == [streams[0]] * 3
    out = capsys.readouterr().out
    assert f"note: {ten}: yuv420p10le converted to 8-bit 4:2:0 (yuv420p)" in out
    assert f"note: {full}: yuv444p converted to 8-bit 4:2:0 (yuv420p)" in out
    assert main(["codec", "encode", str(ten), "-o", str(tmp_path / "x.bin"), "--qp", "5", "--synthetic",
                 "--pix-fmt", "yuv420p"]) == 2
    assert "contradicts the yuv420p10le in the file name" in capsys.readouterr().err


def test_decode_writes_lossless_mkv(tmp_path):
    from vidquant.io import open_video

    video, stream = _video(tmp_path, 2), tmp_path / "s.bin"
    assert main(["codec", "encode", str(video), "-o", str(stream), "--qp", "5", "--synthetic"]) == 0
    assert main(["codec", "decode", str(stream), "-o", str(tmp_path / "d.yuv"), "--synthetic"]) == 0
    assert main(["codec", "decode", str(stream), "-o", str(tmp_path / "d.mkv"), "--synthetic"]) == 0
    raw, mkv = list(read_yuv420(tmp_path / "d.yuv", 48, 32)), [f.planes for f in open_video(tmp_path / "d.mkv")]
    assert len(mkv) == 2 and all(np.array_equal(a, b) for ra, mb in zip(raw, mkv) for a, b in zip(ra, mb))

