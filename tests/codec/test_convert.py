"""Checkpoint loading as SPEC 10: unwrapping, weights-only reading, mismatch messages."""

from __future__ import annotations

import pytest
import torch

from vidquant.errors import VidquantError
from vidquant.models.codec import build_codec
from vidquant.models.codec.net.checkpoints import (
    load_checkpoint,
    read_checkpoint,
    unwrap_state_dict,
)


def test_unwrap_descends_and_strips_module_prefix():
    inner = {"module.a": torch.zeros(1), "b": torch.ones(1)}
    assert set(unwrap_state_dict({"state_dict": {"net": inner}})) == {"a", "b"}
    assert set(unwrap_state_dict({"net": inner})) == {"a", "b"}


def test_official_style_checkpoint_round_trips(tmp_path):
    source = build_codec("dcvc-rt-small", synthetic=True)
    path = tmp_path / "image.pth.tar"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.image.state_dict().items()}}, path)
    target = build_codec("dcvc-rt-small")
    load_checkpoint(target.image, path)
    assert all(torch.equal(a, b) for a, b in zip(source.image.state_dict().values(), target.image.state_dict().values()))


def test_wrong_preset_lists_first_mismatches(tmp_path):
    path = tmp_path / "small.pth"
    torch.save(build_codec("dcvc-rt-small").video.state_dict(), path)
    with pytest.raises(VidquantError, match=r"does not match DMC: shape of q_encoder: checkpoint \[72, 64, 1, 1\]"):
        load_checkpoint(build_codec("dcvc-rt").video, path)


def test_missing_and_unexpected_keys_are_named(tmp_path):
    state = build_codec("dcvc-rt-small").image.state_dict()
    state["extra.weight"] = state.pop("q_scale_dec")
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(VidquantError, match="missing q_scale_dec; unexpected extra.weight"):
        load_checkpoint(build_codec("dcvc-rt-small").image, path)


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": object()}, path)
    with pytest.raises(VidquantError, match="cannot read checkpoint"):
        read_checkpoint(path)
