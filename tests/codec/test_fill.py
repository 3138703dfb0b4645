"""The deterministic weight fill of VECTORS.md section 1 (no ../shared needed)."""

from __future__ import annotations

import numpy as np

from vidquant.models.codec.net.conformance_fill import (
    fill_rule,
    fill_values,
    splitmix64,
)


def test_splitmix64_reference_outputs():
    assert [int(v) for v in splitmix64(0, 2)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4]


def test_fill_reproduces_reference_table_row():
    values = fill_values("q_scale_enc", (64, 368, 1, 1)).ravel()[:4]
    assert values.view(np.uint32).tolist() == [0x3FC21C0A, 0x3FE1EBF3, 0x400C8CE9, 0x3FE83F17]


def test_rules_distinguish_resampling_convs():
    assert fill_rule("hyper_encoder.conv.1.down.weight", (128, 128, 2, 2))[0] == "conv_resample"
    assert fill_rule("encoder.down.weight", (128, 256, 3, 3))[0] == "conv"
    assert fill_rule("enc.enc_2.0.ffn.2.weight", (368, 736, 1, 1))[0] == "conv_branch_out"
    assert fill_rule("bit_estimator_z.f1.h", (64, 128, 1, 1))[1:] == (-1.0, 1.0)
