"""Loading the official UVQ 1.5 checkpoints unchanged, with one-line errors on any mismatch.

Checkpoints are untrusted: ``torch.load(weights_only=True)`` only. The official files are plain
key -> tensor mappings whose keys equal our modules' state-dict keys, so no renaming is needed;
the 48 BatchNorm ``num_batches_tracked`` counters may be present or absent (SPEC.md 6).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch
import torch.nn as nn

from vidquant.errors import VidquantError
from vidquant.io.checkpoint import load_torch_weights
from vidquant.io.digest import file_sha256  # noqa: F401  (conformance reads it from here)

_OPTIONAL_SUFFIX = "num_batches_tracked"
_MAX_LISTED = 5


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """The key -> tensor mapping stored in ``path`` (weights_only: no code from the file runs)."""
    state = load_torch_weights(path)
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise VidquantError(f"checkpoint {path} is not a mapping of key -> tensor")
    return dict(state)


def _listed(keys: list[str]) -> str:
    more = f" (+{len(keys) - _MAX_LISTED} more)" if len(keys) > _MAX_LISTED else ""
    return ", ".join(keys[:_MAX_LISTED]) + more


def state_dict_mismatch(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]) -> str:
    """Why ``state`` cannot load strictly where ``expected`` is wanted ('' when it can)."""
    missing = [k for k in expected if k not in state and not k.endswith(_OPTIONAL_SUFFIX)]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = [
        f"missing keys: {_listed(missing)}" if missing else "",
        f"unexpected keys: {_listed(unexpected)}" if unexpected else "",
        f"wrong shapes: {_listed(shapes)}" if shapes else "",
    ]
    return "; ".join(p for p in problems if p)


def load_weights(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load ``state`` strictly into ``model``; BN counters default to the model's own values."""
    expected = model.state_dict()
    problem = state_dict_mismatch(state, expected)
    if problem:
        raise VidquantError(f"{source} does not fit {type(model).__name__}: {problem}")
    merged = {key: state.get(key, value) for key, value in expected.items()}
    model.load_state_dict({k: v.contiguous() for k, v in merged.items()}, strict=True)


def load_checkpoint(model: nn.Module, path: Path) -> None:
    load_weights(model, read_checkpoint(path), str(path))
