"""``codec test`` builds each model once per worker process and reuses it for every job."""

from __future__ import annotations

import json

import pytest
import torch

from tests.codec.codec_helpers import moving_frames
from vidquant.io.dataset import load_dataset_config
from vidquant.models.codec import build_codec
from vidquant.models.codec.coding.yuvfile import write_video
from vidquant.models.codec.workflow import codec_test
from vidquant.models.codec.workflow.calibrate import CalibSettings, calibrate_codec, save_student
from vidquant.models.codec.workflow.codec_test import jobs_from_config, run_test
from vidquant.models.codec.workflow.coding_models import ModelSpec

TINY = CalibSettings(recipe="w8a8-static", epochs=0, crop=32, batch=2, chains_per_sequence=2, gop_unroll=2)
TIMES = ("test_time", "avg_frame_encoding_time", "avg_frame_decoding_time")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A graph-scope student (traced and exported per build) and a config of 2 sequences."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("runner")
    result = calibrate_codec(build_codec("dcvc-rt-small"), [("calib_64x64.yuv", moving_frames(3, 64, 64, seed=5))],
                             TINY, progress=False)
    student = folder / "student.safetensors"
    save_student(result, TINY, student)
    sequences = {}
    for name, seed in (("held_a_48x32.yuv", 1), ("held_b_48x32.yuv", 2)):
        write_video(folder / name, moving_frames(2, 32, 48, seed=seed))
        sequences[name] = {"width": 48, "height": 32, "frames": 2, "intra_period": -1}
    config = {"root_path": str(folder), "test_classes": {"c": {"base_path": "", "sequences": sequences}}}
    (folder / "config.json").write_text(json.dumps(config))
    return student, load_dataset_config(folder / "config.json"), folder


def _counting_builds(monkeypatch) -> list[ModelSpec]:
    built: list[ModelSpec] = []
    real = codec_test.build_models

    def build(spec, record=None):
        built.append(spec)
        return real(spec, record)

    monkeypatch.setattr(codec_test, "build_models", build)
    return built


def _without_times(results: dict) -> dict:
    return {cls: {seq: {rate: {k: v for k, v in point.items() if k not in TIMES} for rate, point in points.items()}
                  for seq, points in seqs.items()} for cls, seqs in results.items()}


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_each_model_is_built_once_and_reused_with_the_same_numbers(setup, backend, monkeypatch):
    student, config, folder = setup
    spec, options = ModelSpec("dcvc-rt-small", quant=str(student), backend=backend), codec_test.TestOptions(rate_num=4)
    built = _counting_builds(monkeypatch)
    results, errors = run_test(spec, config, options, progress=False)
    assert not errors
    assert built == [spec]  # 2 sequences x 4 rate points, one build
    assert sum(len(points) for points in results["c"].values()) == 8
    # A job on freshly built models (as before the reuse) gives the same numbers, bit for bit: the
    # last job of each sequence, run after the reused models coded three other points.
    for job in jobs_from_config(config, options)[3::4]:
        fresh = codec_test._run_job(spec, options, job, codec_test.build_models(spec))
        reused = results[job.class_name][job.sequence][f"{job.rate_index:03d}"]
        assert json.dumps(_without_times({"c": {"s": {"r": fresh}}}), sort_keys=True) == \
            json.dumps(_without_times({"c": {"s": {"r": reused}}}), sort_keys=True)
    assert not codec_test._BUILT  # nothing kept after the run


def test_the_float_codec_is_built_once_too(setup, monkeypatch):
    _, config, folder = setup
    built = _counting_builds(monkeypatch)
    results, errors = run_test(ModelSpec("dcvc-rt-small"), config, codec_test.TestOptions(rate_num=2), progress=False)
    assert not errors and len(built) == 1
    assert sum(len(points) for points in results["c"].values()) == 4


def test_a_graph_scope_student_widens_the_recurrent_path_ranges(setup):
    """Graph-scope plans freeze the recurrent path's ranges too (after widening them on long chains)."""
    from vidquant.models.codec.workflow.quantize_decoder import calibration_record

    student, _, _ = setup
    assert "video.feature_adaptor_p.input_quant" in calibration_record(student)["recurrent_ranges"]
