"""FILL-v1: deterministic stand-in weights for the trunks whose official checkpoints are unavailable.

SPEC.md section 10: each key gets its own MT19937 stream seeded with CRC-32("<net>/<key>"),
uniform in a range chosen by the key's role. The same rule, with a 2-D linear weight treated
like a 1x1 convolution, also fills aggregation_net when its checkpoint is missing.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

# (suffix, role, lo, hi) for 1-D tensors, checked in order; weight tensors are handled first.
_VECTOR_ROLES: tuple[tuple[str, str, float, float], ...] = (
    (".fc1.bias", "se_fc1_bias", -0.1, 0.1),
    (".fc2.bias", "se_fc2_bias", 1.0, 3.0),
    (".running_mean", "bn_running_mean", -0.05, 0.05),
    (".running_var", "bn_running_var", 0.25, 1.0),
    (".weight", "bn_weight", 0.75, 1.25),
    (".bias", "bn_bias", -0.05, 0.05),
)


@dataclass(frozen=True)
class FillRule:
    """Where one key's values come from: its seed and uniform range."""

    role: str
    seed: int
    lo: float
    hi: float


def fill_seed(net: str, key: str) -> int:
    return zlib.crc32(f"{net}/{key}".encode("utf-8"))


def fill_rule(net: str, key: str, shape: tuple[int, ...]) -> FillRule:
    """Role and range of ``key``: conv/linear weights by fan-in, the rest by name suffix."""
    seed = fill_seed(net, key)
    if len(shape) in (2, 4) and key.endswith(".weight"):
        bound = math.sqrt(3.0 / math.prod(shape[1:]))
        return FillRule("conv_weight", seed, -bound, bound)
    for suffix, role, lo, hi in _VECTOR_ROLES:
        if key.endswith(suffix):
            return FillRule(role, seed, lo, hi)
    raise ValueError(f"FILL-v1 has no role for key {key!r}")


def fill_tensor(net: str, key: str, shape: tuple[int, ...]) -> torch.Tensor:
    """float32(lo + (hi - lo) * u) computed in float64, u from torch's MT19937 ``rand``."""
    if key.endswith("num_batches_tracked"):
        return torch.zeros((), dtype=torch.int64)
    rule = fill_rule(net, key, shape)
    generator = torch.Generator().manual_seed(rule.seed)
    uniform = torch.rand(shape, generator=generator, dtype=torch.float32).double()
    return (rule.lo + (rule.hi - rule.lo) * uniform).float()


def fill_state_dict(net: str, template: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """FILL-v1 values for every key of ``template`` (a state dict giving the shapes)."""
    return {key: fill_tensor(net, key, tuple(value.shape)) for key, value in template.items()}


def weights_sha256(state: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 of all float32 values, little-endian, in key order, skipping BN counters."""
    digest = hashlib.sha256()
    for key, value in state.items():
        if not key.endswith("num_batches_tracked"):
            digest.update(np.ascontiguousarray(value.detach().cpu().numpy(), dtype="<f4").tobytes())
    return digest.hexdigest()
