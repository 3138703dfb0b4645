"""Safe reading of untrusted checkpoint files: safetensors, or torch.load(weights_only=True).

Every failure is one VidquantError line naming the file; no pickle code ever runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from vidquant.errors import VidquantError, first_line


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """All tensors and the string metadata of a safetensors file."""
    path = Path(path)
    _require_file(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise VidquantError(f"{path} is not a readable safetensors file ({first_line(error)})") from None
    return tensors, metadata


def read_safetensors_metadata(path: str | Path) -> dict[str, str]:
    path = Path(path)
    _require_file(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError) as error:
        raise VidquantError(f"{path} is not a readable safetensors file ({first_line(error)})") from None


def write_safetensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({key: value.contiguous() for key, value in tensors.items()}, str(path), metadata=metadata)


def load_torch_weights(path: str | Path) -> Any:
    """``torch.load`` restricted to tensors and plain containers (never arbitrary pickles)."""
    path = Path(path)
    _require_file(path)
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for bad files; all mean the same here
        if str(error).startswith("Weights only load failed"):  # not torch's advice to load it anyway
            raise VidquantError(f"cannot read checkpoint {path}: it holds Python objects other than tensors and "
                                "plain containers (refused: a checkpoint is untrusted input)") from None
        raise VidquantError(f"cannot read checkpoint {path}: {first_line(error)}") from None


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise VidquantError(f"{path} does not exist or is not a file")
