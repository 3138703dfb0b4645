"""The conformance pack's deterministic weight fill (VECTORS.md section 1).

Each key is filled from SplitMix64 seeded with the CRC-32 of its name, mapped to [lo, hi]
by a rule chosen from the key's name and shape, so any implementation can rebuild the
exact synthetic weights the vectors were made with.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import torch
import torch.nn as nn

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)

# The down conv of every ResidualBlockWithStride2 and the sub-pixel conv of every
# ResidualBlockUpsample (resampling blocks whose shortcut doubles the signal).
_RESAMPLE_SUFFIXES = (".down.weight", ".up.conv.0.weight")
_PLAIN_RESAMPLE_KEYS = ("encoder.down.weight", "decoder.up.conv.0.weight")  # not in such blocks


def splitmix64(seed: int, count: int) -> np.ndarray:
    """The first ``count`` outputs of SplitMix64 started at state ``seed`` (uint64 array)."""
    with np.errstate(over="ignore"):
        state = np.uint64(seed) + np.arange(1, count + 1, dtype=np.uint64) * _GOLDEN
        state = (state ^ (state >> np.uint64(30))) * _MIX1
        state = (state ^ (state >> np.uint64(27))) * _MIX2
        return state ^ (state >> np.uint64(31))


def fill_rule(key: str, shape: tuple[int, ...]) -> tuple[str, float, float]:
    """(rule name, lo, hi) for a state-dict key, first matching rule of VECTORS.md 1."""
    if key in ("q_scale_enc", "q_encoder"):
        return "qscale_enc", 1.5, 2.5
    if "." not in key:
        return "qscale", 0.5, 1.5
    if key.startswith("bit_estimator_z."):
        return "bitparm", -1.0, 1.0
    if key.endswith(".bias"):
        return "bias", -0.05, 0.05
    if len(shape) != 4:
        raise ValueError(f"no fill rule for {key} {shape}")
    fan_in = shape[1] * shape[2] * shape[3]
    if key.endswith((".dc.3.weight", ".ffn.2.weight")):
        rule, gain = "conv_branch_out", 0.1
    elif key.endswith(_RESAMPLE_SUFFIXES) and key not in _PLAIN_RESAMPLE_KEYS:
        rule, gain = "conv_resample", 0.5
    else:
        rule, gain = "conv", 1.0
    bound = gain * math.sqrt(3.0 / fan_in)
    return rule, -bound, bound


def fill_values(key: str, shape: tuple[int, ...]) -> np.ndarray:
    """The float32 values of ``key`` in C order."""
    _, lo, hi = fill_rule(key, shape)
    count = int(np.prod(shape)) if shape else 1
    outputs = splitmix64(zlib.crc32(key.encode("utf-8")), count)
    unit = (outputs >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return (lo + (hi - lo) * unit).astype(np.float32).reshape(shape)


@torch.no_grad()
def fill_model(model: nn.Module) -> nn.Module:
    """Fill every state-dict entry of ``model`` in place; returns the model."""
    for key, tensor in model.state_dict().items():
        tensor.copy_(torch.from_numpy(fill_values(key, tuple(tensor.shape))))
    return model
