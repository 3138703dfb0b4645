"""Network structure: key lists, shapes, TF-same padding, quantization-friendly modules."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn

from tests.conftest import shared_file
from vidquant.models.uvq import AggregationNet, ContentNet, DistortionNet, UVQ1p5
from vidquant.models.uvq.config import ContentConfig, DistortionConfig
from vidquant.models.uvq.layers import SamePadConv2d, same_padding

PACK = "conformance/uvq1p5"


@pytest.mark.parametrize("net, cls", [("content", ContentNet), ("distortion", DistortionNet)])
def test_trunk_keys_equal_key_list(net, cls):
    listing = json.loads(shared_file(f"{PACK}/keys_{net}.json").read_text())
    got = [(k, list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in cls().state_dict().items()]
    assert got == [(k["key"], k["shape"], k["dtype"]) for k in listing["keys"]]


def test_aggregation_keys_equal_key_list():
    listing = json.loads(shared_file(f"{PACK}/keys_aggregation.json").read_text())
    state = AggregationNet().state_dict()
    assert list(state) == listing["module_state_dict_order"]
    assert {k: list(v.shape) for k, v in state.items()} == {k["key"]: k["shape"] for k in listing["keys"]}


def test_trunk_parameter_counts_match_spec():
    state = ContentNet().state_dict()
    floats = sum(v.numel() for v in state.values() if v.dtype == torch.float32)
    counters = [k for k, v in state.items() if v.dtype == torch.int64]
    assert (len(state), floats, len(counters)) == (353, 3_798_684, 48)


@pytest.mark.parametrize(
    "length, kernel, stride, pads",
    [(256, 3, 2, (0, 1)), (64, 5, 2, (1, 2)), (45, 3, 2, (1, 1)), (23, 5, 2, (2, 2)), (12, 2, 1, (0, 1)), (8, 1, 1, (0, 0))],
)
def test_same_padding_matches_appendix_a(length, kernel, stride, pads):
    assert same_padding(length, kernel, stride) == pads


def test_same_pad_conv_keeps_tensorflow_output_size():
    conv = SamePadConv2d(2, 3, 5, stride=2)
    assert conv(torch.zeros(1, 2, 23, 40)).shape == (1, 3, 12, 20)


def test_every_weight_layer_is_a_plain_torch_module():
    """Quantization swaps nn.Conv2d / nn.Linear by type: 81 + 81 + 2 weight layers."""
    model = UVQ1p5()
    counts = {
        name: sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in net.modules())
        for name, net in model.networks().items()
    }
    assert counts == {"content_net": 81, "distortion_net": 81, "aggregation_net": 2}
    assert all(type(m) in (nn.Conv2d, nn.Linear) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def test_content_net_output_layout_on_small_frames():
    net = ContentNet(ContentConfig(resize=(64, 64))).eval()
    with torch.inference_mode():
        out = net(torch.rand(2, 3, 90, 160) * 2 - 1)
    assert out.shape == (2, 2, 2, 128)


def test_distortion_net_patches_frame_major_then_row_major():
    net = DistortionNet(DistortionConfig(pool=(1, 1))).eval()
    frames = torch.arange(2 * 6 * 9, dtype=torch.float32).reshape(2, 1, 6, 9)
    patches = net.to_patches(frames)
    assert patches.shape == (18, 1, 2, 3)
    # patch 9n + 3r + c holds rows 2r.., columns 3c.. of frame n
    assert torch.equal(patches[9 * 1 + 3 * 2 + 1, 0], frames[1, 0, 4:6, 3:6])


def test_distortion_retile_inverts_patch_order():
    net = DistortionNet()
    patches = torch.randn(18, 2, 3, 4)
    tiled = net.retile(patches)
    assert tiled.shape == (2, 6, 9, 4)
    assert torch.equal(tiled[1, 2 * 2 : 2 * 2 + 2, 3 * 1 : 3 * 1 + 3], patches[9 * 1 + 3 * 2 + 1])


def test_distortion_net_rejects_frames_not_divisible_into_patches():
    from vidquant.errors import VidquantError

    with pytest.raises(VidquantError, match="split into 3x3 patches"):
        DistortionNet().to_patches(torch.zeros(1, 3, 100, 100))


def test_aggregation_scores_stay_in_open_range():
    net = AggregationNet().eval()
    with torch.inference_mode():
        score = net(torch.randn(3, 8, 8, 128) * 10, torch.randn(3, 24, 24, 128) * 10)
    assert score.shape == (3, 1)
    assert bool(((score > 1) & (score < 5)).all())
