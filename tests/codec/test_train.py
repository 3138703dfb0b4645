"""Training: a few RD steps run, checkpoint, resume, and export loadable weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests.codec.codec_helpers import moving_frames
from vidquant.errors import VidquantError
from vidquant.models.codec import build_codec
from vidquant.models.codec.coding.yuvfile import write_video
from vidquant.models.codec.net.checkpoints import load_checkpoint
from vidquant.models.codec.workflow.augment import shift_colours
from vidquant.models.codec.workflow.train import (
    TrainSettings,
    export_weights,
    load_clips,
    rd_lambda,
    sample_batch,
    train,
)


def _settings(clip, steps_i, steps_p, colour_aug=0.5):
    return TrainSettings(steps_i=steps_i, steps_p=steps_p, batch=2, crop=32, p_frames=1, clips=[str(clip)],
                         checkpoint_every=1, colour_aug=colour_aug)


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


@pytest.mark.parametrize("content", ["garbage", "a list", "pickled code"])
def test_a_corrupt_or_untrusted_state_is_one_line_error(tmp_path, content):
    """Resuming a corrupt or untrusted state.pt ended in a traceback."""
    clip = tmp_path / "clip_48x48.yuv"
    write_video(clip, moving_frames(2, 48, 48))
    run = tmp_path / "run"
    run.mkdir()
    if content == "garbage":
        (run / "state.pt").write_text("garbage")
    else:
        torch.save([torch.zeros(1)] if content == "a list" else {"image": print}, run / "state.pt")
    with pytest.raises(VidquantError) as caught:
        train(_settings(clip, 1, 0), run, progress=False)
    message = str(caught.value)
    assert "\n" not in message and str(run / "state.pt") in message
    assert ("not a codec training state" if content == "a list" else "cannot read checkpoint") in message
    if content == "pickled code":
        assert "untrusted input" in message and "weights_only=False" not in message


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


def test_colour_shift_keeps_luma_and_reaches_saturated_chroma():
    grey_ish = torch.full((2, 3, 4, 4), 0.5)
    grey_ish[:, 1] += 0.05  # a faint blue cast
    shifted = shift_colours(grey_ish, angle=math.pi / 2, gain=3.0)
    assert torch.equal(shifted[:, 0], grey_ish[:, 0])
    # a quarter turn moves the cast from U to V, three times stronger
    assert torch.allclose(shifted[:, 1], torch.full_like(shifted[:, 1], 0.5), atol=1e-6)
    assert torch.allclose(shifted[:, 2], torch.full_like(shifted[:, 2], 0.65), atol=1e-6)
    assert shift_colours(torch.ones(1, 3, 2, 2), 0.3, 3.0).max() <= 1.0  # clipped to the valid range


def test_colour_augmentation_applies_one_shift_per_chain(tmp_path):
    clip = tmp_path / "clip_48x48.yuv"
    write_video(clip, moving_frames(4, 48, 48))
    clips = load_clips([clip], max_frames=4, crop=32)
    plain = _settings(clip, 1, 1, colour_aug=0.0)
    coloured = _settings(clip, 1, 1, colour_aug=1.0)
    plain.batch = coloured.batch = 1  # the colour draws follow the crop draws of a chain
    base = sample_batch(clips, plain, 3, np.random.default_rng(0))[0]
    shifted = sample_batch(clips, coloured, 3, np.random.default_rng(0))[0]
    assert torch.equal(base[:, 0], shifted[:, 0])  # luma untouched
    assert not torch.equal(base[:, 1:], shifted[:, 1:])
    # one saturation gain for the whole chain (the test clip's chroma stays inside [0, 1] at gain 3)
    gains = (shifted[:, 1:] - 0.5).flatten(1).norm(dim=1) / (base[:, 1:] - 0.5).flatten(1).norm(dim=1)
    assert torch.allclose(gains, gains[:1].expand_as(gains), rtol=1e-4)
    assert 0.7 <= float(gains[0]) <= 3.0
    with pytest.raises(VidquantError, match="colour_aug"):
        _settings(clip, 1, 1, colour_aug=-0.1)


def test_a_diverging_step_is_logged_as_nan_psnr_not_an_error():
    """The training log's PSNR of a non-finite MSE stays NaN (psnr_from_mse refuses it)."""
    import math

    from vidquant.models.codec.workflow.train import _log_psnr

    assert math.isnan(_log_psnr(float("nan"))) and _log_psnr(1e-3) == pytest.approx(30.0)
