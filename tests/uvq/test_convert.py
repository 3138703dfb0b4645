"""Loading checkpoints: weights_only, strict keys, optional BN counters, one-line errors."""

from __future__ import annotations

import collections

import pytest
import torch

from tests.conftest import shared_file
from vidquant.errors import VidquantError
from vidquant.models.uvq import FILL_V1, OFFICIAL, AggregationNet, ContentNet, build_uvq
from vidquant.models.uvq.convert import file_sha256, load_checkpoint, load_weights, read_checkpoint
from vidquant.models.uvq.fill import fill_state_dict

class _Payload:
    """An arbitrary class: unpickling it would run code, so weights_only must refuse it."""


AGG_SHA256 = "0f214c76adfbc3d06b48211837cfc46847ef6fe0102804d4d097ba170e769fc6"


def test_official_aggregation_checkpoint_loads_unchanged():
    path = shared_file("conformance/uvq1p5/aggregation_net.pth")
    assert file_sha256(path) == AGG_SHA256
    state = read_checkpoint(path)
    assert list(state)[-2:] == ["ln1.bias", "ln1.weight"]
    assert state["conv1.weight"].stride() == (1, 256, 65536, 65536)
    net = AggregationNet()
    load_checkpoint(net, path)
    assert torch.equal(net.conv1.weight, state["conv1.weight"])
    assert net.conv1.weight.is_contiguous()


def test_build_uvq_reports_weight_sources():
    folder = shared_file("conformance/uvq1p5")
    _, sources = build_uvq(folder)
    assert [(s.net, s.kind) for s in sources] == [
        ("content_net", FILL_V1), ("distortion_net", FILL_V1), ("aggregation_net", OFFICIAL)
    ]


def _content_state(drop_counters: bool) -> dict[str, torch.Tensor]:
    state = fill_state_dict("content_net", ContentNet().state_dict())
    return {k: v for k, v in state.items() if not (drop_counters and k.endswith("num_batches_tracked"))}


@pytest.mark.parametrize("drop_counters", [False, True])
def test_batchnorm_counters_may_be_absent(tmp_path, drop_counters):
    path = tmp_path / "content_net.pth"
    torch.save(collections.OrderedDict(_content_state(drop_counters)), path)
    net = ContentNet()
    load_checkpoint(net, path)
    assert torch.equal(net.features[0][0].conv.weight, _content_state(False)["features.0.0.conv.weight"])


def test_missing_unexpected_and_wrong_shape_keys_are_named():
    state = _content_state(False)
    del state["features.3.block.2.fc1.bias"]
    state["features.99.weight"] = torch.zeros(1)
    state["features.17.conv.weight"] = torch.zeros(128, 320, 1, 1)
    with pytest.raises(VidquantError) as info:
        load_weights(ContentNet(), state, "test.pth")
    message = str(info.value)
    assert "missing keys: features.3.block.2.fc1.bias" in message
    assert "unexpected keys: features.99.weight" in message
    assert "features.17.conv.weight (128, 320, 1, 1) != (128, 320, 2, 2)" in message
    assert "\n" not in message


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"conv1.weight": _Payload()}, path)
    with pytest.raises(VidquantError, match="cannot read checkpoint"):
        read_checkpoint(path)


def test_not_a_mapping_and_missing_file(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(VidquantError, match="not a mapping"):
        read_checkpoint(path)
    with pytest.raises(VidquantError, match="absent.pth does not exist"):
        read_checkpoint(tmp_path / "absent.pth")
