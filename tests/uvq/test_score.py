"""`vidquant uvq score` end to end on tiny encoded clips: formats, batch mode, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from vidquant.cli.main import main
from vidquant.errors import VidquantError
from vidquant.models.uvq.pipeline import VideoScore, padded, read_sampled_frames
from vidquant.models.uvq.sampling import SamplingPlan


def _write_clip(
    path: Path, seconds: float, fps: int = 10, width: int = 64, height: int = 48, rotation: int = 0
) -> Path:
    """A small MPEG-4 clip with moving gradients (real encoder, real container)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(round(seconds * fps)):
            image = np.zeros((height, width, 3), np.uint8)
            image[..., 0] = (np.arange(width) * 4 + i * 8) % 256
            image[..., 1] = (np.arange(height)[:, None] * 5) % 256
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    broken = folder / "broken.mp4"
    broken.write_bytes(b"not a video" * 50)
    return {
        "good": _write_clip(folder / "good.mp4", 1.0),
        "short": _write_clip(folder / "short.mp4", 0.5),
        "broken": broken,
        "missing": folder / "missing.mp4",
    }


def test_padding_drops_extra_and_adds_black_frames():
    frames = [np.full((2, 2, 3), i, np.uint8) for i in (1, 2, 3)]
    assert [int(f.max()) for f in padded(frames, 2, (2, 2, 3))] == [1, 2]
    out = list(padded(frames, 5, (2, 2, 3)))
    assert [int(f.max()) for f in out] == [1, 2, 3, 0, 0] and out[-1].shape == (2, 2, 3)
    with pytest.raises(VidquantError, match="no frame"):
        list(padded([], 2, (2, 2, 3)))


def test_per_second_scores_average_each_seconds_frames():
    result = VideoScore(2.5, [1.0, 2.0, 3.0, 4.0], [0, 15, 30, 45], rate=2)
    assert result.per_second_scores == [1.5, 3.5]
    assert "rate" not in result.to_dict()


def test_single_video_all_stats_and_json_file(clips, tmp_path, capsys):
    out = tmp_path / "sub" / "result.json"
    video = str(clips["good"])
    assert main(["uvq", "score", video, "--weights", str(tmp_path), "--output_all_stats", "--output", str(out),
                 "--allow-placeholder-weights"]) == 0
    captured = capsys.readouterr()
    assert "FILL-v1" in captured.err and "not meaningful" in captured.err
    result = json.loads(captured.out)
    assert captured.out.endswith("}\n") and captured.out.count("\n") == 1
    assert list(result) == ["uvq1p5_score", "per_frame_scores", "frame_indices", "video_name", "placeholder_weights"]
    assert result["frame_indices"] == [0] and result["video_name"] == video
    assert 1.0 < result["uvq1p5_score"] < 5.0
    assert result["uvq1p5_score"] == pytest.approx(float(np.float32(np.mean(result["per_frame_scores"]))))
    text = out.read_text()
    assert json.loads(text) == result and text.startswith('{\n  "uvq1p5_score"') and not text.endswith("\n")


def test_batch_goes_on_after_bad_videos(clips, tmp_path, capsys):
    listing = tmp_path / "list.txt"
    paths = [clips[name] for name in ("broken", "short", "good", "missing")]
    listing.write_text("\n".join(f"  {p}  " for p in paths) + "\n\n")
    results = tmp_path / "out" / "results.txt"
    as_json = tmp_path / "out" / "results.json"
    code = main(["uvq", "score", str(listing), "--output", str(results), "--json", str(as_json),
                 "--allow-placeholder-weights"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == f"Batch inference complete. Results saved to {results}\n"
    errors = [line for line in captured.err.splitlines() if "error:" in line]
    assert len(errors) == 3
    assert "broken.mp4: cannot read the video" in captured.err
    assert "short.mp4: video is shorter than 1 s" in captured.err
    assert "missing.mp4: no such video file" in captured.err
    lines = results.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("good.mp4,")
    score = float(lines[0].split(",")[1])
    assert lines[0].endswith(",placeholder")  # every line says its score came from placeholder weights
    assert json.loads(as_json.read_text())[0]["uvq1p5_score"] == score


@pytest.mark.parametrize("name, message", [("short", "shorter than 1 s"), ("broken", "cannot read the video")])
def test_single_bad_video_is_a_one_line_error(clips, capsys, name, message):
    assert main(["uvq", "score", str(clips[name]), "--allow-placeholder-weights"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("vidquant uvq: error: ") and message in err


def test_missing_weights_folder_is_an_error(clips, tmp_path, capsys):
    assert main(["uvq", "score", str(clips["good"]), "--weights", str(tmp_path / "nope")]) == 2
    assert "weights folder not found" in capsys.readouterr().err



def test_display_rotation_is_applied_like_the_ffmpeg_cli(tmp_path):
    """A clip whose display matrix says 'rotate 90 deg counter-clockwise' decodes like the
    plain clip with --transpose (also 90 deg counter-clockwise), and unlike the plain clip."""
    plain = _write_clip(tmp_path / "plain.mp4", 1.0)
    rotated = _write_clip(tmp_path / "rotated.mp4", 1.0, rotation=90)
    plan = SamplingPlan(1, 1, 10, transpose=False)
    got = next(read_sampled_frames(rotated, plan, 72, 54))
    transposed = next(read_sampled_frames(plain, SamplingPlan(1, 1, 10, transpose=True), 72, 54))
    upright = next(read_sampled_frames(plain, plan, 72, 54))
    assert np.array_equal(got, transposed)
    assert not np.array_equal(got, upright)


def test_placeholder_weights_are_refused_unless_allowed(clips, tmp_path, capsys):
    """Without the official trunks the score looked real on stdout (a warning only on stderr)."""
    assert main(["uvq", "score", str(clips["good"]), "--weights", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip().splitlines()[-1]
    assert err.startswith("vidquant uvq: error: no official UVQ 1.5 weights for content_net, distortion_net")
    assert "--allow-placeholder-weights" in err
    assert main(["uvq", "score", str(clips["good"]), "--weights", str(tmp_path), "--allow-placeholder-weights"]) == 0
    line = capsys.readouterr().out
    assert line.endswith(" placeholder\n") and 1.0 < float(line.split()[0]) < 5.0
