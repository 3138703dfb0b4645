"""SCI checkpoints: weights + config in one .safetensors file, training state beside it.

Both load without executing code: safetensors for weights, ``torch.load(weights_only=True)``
for the optimizer state and counters.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from vidquant.errors import VidquantError
from vidquant.io.checkpoint import (
    load_torch_weights,
    read_safetensors,
    read_safetensors_metadata,
)
from vidquant.models.sci.config import SCIConfig
from vidquant.models.sci.network import EfficientSCI

WEIGHTS = "model.safetensors"
STATE = "train_state.pt"


def save_weights(path: str | Path, model: EfficientSCI, info: dict[str, Any] | None = None) -> None:
    """Write weights with the config (and any JSON-able ``info``) in the metadata, atomically."""
    path = Path(path)
    metadata = {"config": json.dumps(model.config.to_dict()), "info": json.dumps(info or {})}
    tensors = {name: t.detach().contiguous() for name, t in model.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def read_metadata(path: str | Path) -> tuple[SCIConfig, dict[str, Any]]:
    """(network config, info) stored in a weights file."""
    metadata = read_safetensors_metadata(_existing(path))
    if "config" not in metadata:
        raise VidquantError(f"{path} is not a vidquant SCI checkpoint (no config in its metadata)")
    return SCIConfig.from_dict(json.loads(metadata["config"])), json.loads(metadata.get("info", "{}"))


def load_model(path: str | Path) -> EfficientSCI:
    """EfficientSCI built from a checkpoint's own config, weights loaded strictly."""
    config, _ = read_metadata(path)
    model = EfficientSCI(config)
    try:
        model.load_state_dict(read_safetensors(_existing(path))[0])
    except RuntimeError as error:
        raise VidquantError(f"{path} does not match its config: {str(error).splitlines()[0]}") from None
    return model


def save_state(path: str | Path, state: dict[str, Any]) -> None:
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_state(path: str | Path) -> dict[str, Any]:
    state = load_torch_weights(_existing(path))
    if not isinstance(state, dict):
        raise VidquantError(f"{path} is not a training state (expected a dictionary)")
    return state


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise VidquantError(f"checkpoint not found: {path}")
    return path
