"""FILL-v1 deterministic weights (SPEC.md 10, VECTORS.md 5)."""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import shared_file
from vidquant.models.uvq import AggregationNet, ContentNet, DistortionNet
from vidquant.models.uvq.fill import fill_rule, fill_seed, fill_state_dict, fill_tensor, weights_sha256


def test_seed_is_crc32_of_net_and_key():
    assert fill_seed("content_net", "features.0.0.conv.weight") == 1064546898
    assert fill_seed("distortion_net", "features.0.0.conv.weight") == 1524236735


def test_first_values_of_spec_table():
    value = fill_tensor("content_net", "features.0.0.conv.weight", (32, 3, 3, 3))
    assert value.dtype == torch.float32
    assert value.flatten()[:4].tolist() == [
        0.016118327155709267, -0.236183762550354, -0.07950592041015625, -0.04935212805867195
    ]
    bias = fill_tensor("content_net", "features.16.block.2.fc2.bias", (1152,))
    assert bias[:2].tolist() == [1.6482325792312622, 2.626568078994751]


@pytest.mark.parametrize(
    "key, shape, role, lo, hi",
    [
        ("features.1.block.0.0.conv.weight", (32, 1, 3, 3), "conv_weight", -(1 / 3) ** 0.5, (1 / 3) ** 0.5),
        ("features.1.block.1.fc1.bias", (8,), "se_fc1_bias", -0.1, 0.1),
        ("features.7.block.1.1.running_var", (480,), "bn_running_var", 0.25, 1.0),
        ("features.7.block.1.1.weight", (480,), "bn_weight", 0.75, 1.25),
        ("features.7.block.1.1.bias", (480,), "bn_bias", -0.05, 0.05),
    ],
)
def test_roles_and_ranges(key, shape, role, lo, hi):
    rule = fill_rule("distortion_net", key, shape)
    assert (rule.role, rule.lo, rule.hi) == (role, pytest.approx(lo), pytest.approx(hi))
    value = fill_tensor("distortion_net", key, shape)
    assert float(value.min()) >= lo and float(value.max()) < hi


def test_batchnorm_counters_are_int64_zero():
    value = fill_tensor("content_net", "features.0.1.num_batches_tracked", ())
    assert value.dtype == torch.int64 and int(value) == 0


def test_aggregation_fill_covers_every_key():
    state = fill_state_dict("aggregation_net", AggregationNet().state_dict())
    assert fill_rule("aggregation_net", "linear1.weight", (1, 256)).role == "conv_weight"
    AggregationNet().load_state_dict(state)


@pytest.mark.parametrize("net, cls", [("content_net", ContentNet), ("distortion_net", DistortionNet)])
def test_whole_network_sha256_matches_reference(net, cls):
    reference = json.loads(shared_file("conformance/uvq1p5/fill_reference.json").read_text())["nets"][net]
    digest = weights_sha256(fill_state_dict(net, cls().state_dict()))
    assert digest == reference["sha256_of_float32_le_concat_in_key_order_excluding_num_batches_tracked"]
