"""Model fingerprints: what a stream's decoder must be, computed once per model and kept exact."""

from __future__ import annotations

import copy

import torch
import torch.nn as nn

from vidquant.quant import quantize
from vidquant.quant.fingerprint import (FAKE_QUANT_NUMERICS, FINGERPRINT_BYTES, FLOAT_NUMERICS, INTEGER_NUMERICS,
                                        describe, fingerprint, numerics)


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1)).eval()


def test_float_and_students_of_each_scope_differ_in_numerics_and_digest():
    float_net = _net()
    layer = quantize(copy.deepcopy(float_net), "w8a8-lsq")
    graph = quantize(copy.deepcopy(float_net), "w8a8-static", example_inputs=[torch.rand(1, 3, 8, 8)])
    assert [numerics(m) for m in (float_net, layer, graph)] == [FLOAT_NUMERICS, FAKE_QUANT_NUMERICS, INTEGER_NUMERICS]
    assert describe(graph) == f"w8a8-static ({INTEGER_NUMERICS})"
    digests = {fingerprint(m) for m in (float_net, layer, graph)}
    assert len(digests) == 3 and all(len(d) == FINGERPRINT_BYTES for d in digests)


def test_equal_models_share_a_digest_and_any_weight_change_is_seen():
    net, twin = _net(), _net()
    assert fingerprint(net) == fingerprint(twin)
    before = fingerprint(net)
    with torch.no_grad():
        net[2].bias[0] += 1e-7  # an in-place edit after the digest was cached
    assert fingerprint(net) != before
    net.load_state_dict(twin.state_dict())  # the same values again, copied in place
    assert fingerprint(net) == before
    net[0].weight = nn.Parameter(net[0].weight.detach() * 2)  # a replaced tensor
    assert fingerprint(net) != before


def test_the_digest_is_cached_until_a_tensor_changes(monkeypatch):
    import hashlib

    net = _net()
    fingerprint(net)
    calls = []
    real = hashlib.blake2b
    monkeypatch.setattr(hashlib, "blake2b", lambda *a, **k: calls.append(1) or real(*a, **k))
    fingerprint(net)
    assert calls == []
    with torch.no_grad():
        net[0].weight.mul_(2.0)
    fingerprint(net)
    assert calls == [1]


def test_a_pinned_digest_survives_moving_the_tensors():
    from vidquant.quant.fingerprint import pin_fingerprint

    net = _net()
    digest = pin_fingerprint(net)
    net[0] = nn.Identity()  # as when a network is swapped for an ONNX Runtime session
    assert fingerprint(net) == digest
