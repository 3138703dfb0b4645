"""Training: a few RD steps run, checkpoint, resume, and export loadable weights."""

from __future__ import annotations

import pytest
import torch

from tests.codec.codec_helpers import moving_frames
from vidquant.errors import VidquantError
from vidquant.models.codec import build_codec
from vidquant.models.codec.convert import load_checkpoint
from vidquant.models.codec.train import TrainSettings, export_weights, rd_lambda, train
from vidquant.models.codec.yuvfile import write_video


def _settings(clip, steps_i, steps_p):
    return TrainSettings(steps_i=steps_i, steps_p=steps_p, batch=2, crop=32, p_frames=1, clips=[str(clip)], checkpoint_every=1)


def test_lambda_grows_with_qp():
    values = rd_lambda(torch.tensor([0, 21, 42, 63]), TrainSettings())
    assert torch.all(values[1:] > values[:-1])
    assert abs(float(values[0]) - TrainSettings().lambda_min) < 1e-9


def test_train_resume_and_export(tmp_path):
    torch.set_num_threads(1)
    clip = tmp_path / "clip_48x48.yuv"
    write_video(clip, moving_frames(4, 48, 48))
    run = tmp_path / "run"
    first = train(_settings(clip, 2, 1), run, progress=False)
    assert (first.step_i, first.step_p) == (2, 1)
    before = {k: v.clone() for k, v in first.codec.image.state_dict().items()}
    resumed = train(_settings(clip, 3, 1), run, progress=False)
    assert (resumed.step_i, resumed.step_p) == (3, 1)
    changed = [k for k, v in resumed.codec.image.state_dict().items() if not torch.equal(v, before[k])]
    assert changed  # the third step trained on top of the resumed weights
    image_path, video_path = export_weights(resumed.codec, tmp_path / "weights")
    loaded = build_codec("dcvc-rt-small")
    load_checkpoint(loaded.image, image_path)
    load_checkpoint(loaded.video, video_path)
    ref = resumed.codec.image.q_scale_enc.detach().half().float()
    assert torch.equal(loaded.image.q_scale_enc, ref)


def test_fine_tune_from_exported_weights_keeps_a_zero_step_phase(tmp_path):
    torch.set_num_threads(1)
    clip = tmp_path / "clip_48x48.yuv"
    write_video(clip, moving_frames(4, 48, 48))
    start = train(_settings(clip, 1, 1), tmp_path / "first", progress=False)
    export_weights(start.codec, tmp_path / "weights")
    exported = build_codec("dcvc-rt-small", *(tmp_path / "weights" / f"dcvc-rt-small_{p}.safetensors" for p in ("image", "video")))
    settings = _settings(clip, 0, 1)
    settings.init = str(tmp_path / "weights")
    tuned = train(settings, tmp_path / "tuned", progress=False)
    for key, value in tuned.codec.image.state_dict().items():  # I phase has 0 steps: unchanged
        assert torch.equal(value, exported.image.state_dict()[key]), key
    assert any(not torch.equal(v, exported.video.state_dict()[k]) for k, v in tuned.codec.video.state_dict().items())


def test_init_folder_without_weights_fails_in_one_line(tmp_path):
    settings = TrainSettings(init=str(tmp_path), clips=[])
    with pytest.raises(VidquantError, match="lacks"):
        train(settings, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()  # nothing made before the starting weights load
