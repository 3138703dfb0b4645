"""Checkpoint loading as the official test does it (SPEC 10), from untrusted files.

``torch.load(..., weights_only=True)`` or safetensors only; the dict is unwrapped
(``state_dict`` then ``net``, leading ``module.`` stripped) and checked against the model
before a strict load, so a wrong preset fails with the first mismatching keys named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch
import torch.nn as nn

from vidquant.errors import VidquantError
from vidquant.io.checkpoint import load_torch_weights

MAX_LISTED = 5


def unwrap_state_dict(obj: object) -> dict[str, torch.Tensor]:
    """Descend into ``state_dict`` then ``net`` if present; strip a leading ``module.``."""
    if not isinstance(obj, Mapping):
        raise VidquantError(f"checkpoint holds a {type(obj).__name__}, not a state dict")
    if "state_dict" in obj:
        obj = obj["state_dict"]
    if isinstance(obj, Mapping) and "net" in obj:
        obj = obj["net"]
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in obj.items()}


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a .pth/.pth.tar (weights only) or .safetensors file, unwrapped."""
    path = Path(path)
    if not path.is_file():
        raise VidquantError(f"checkpoint {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return unwrap_state_dict(load_file(str(path)))
        return unwrap_state_dict(load_torch_weights(path))
    except VidquantError:
        raise
    except Exception as error:  # unreadable or unsafe file: one line, no traceback
        raise VidquantError(f"cannot read checkpoint {path}: {str(error).splitlines()[0]}") from None


def state_dict_mismatches(model: nn.Module, state: Mapping[str, torch.Tensor]) -> list[str]:
    """Human-readable differences between a model's state dict and ``state`` (keys, shapes)."""
    expected = model.state_dict()
    problems = []
    for key, value in expected.items():  # in model order, so the first problems are the earliest layers
        if key not in state:
            problems.append(f"missing {key}")
        elif tuple(state[key].shape) != tuple(value.shape):
            problems.append(f"shape of {key}: checkpoint {list(state[key].shape)} vs model {list(value.shape)}")
    problems += [f"unexpected {k}" for k in state if k not in expected]
    return problems


def load_weights(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "checkpoint") -> nn.Module:
    """Strict load after a readable check; errors list the first mismatches."""
    problems = state_dict_mismatches(model, state)
    if problems:
        shown = "; ".join(problems[:MAX_LISTED])
        more = f" (+{len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
        raise VidquantError(f"{source} does not match {type(model).__name__}: {shown}{more}")
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return model


def load_checkpoint(model: nn.Module, path: str | Path) -> nn.Module:
    return load_weights(model, read_checkpoint(path), source=str(path))
