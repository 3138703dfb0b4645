"""Model families (codec, uvq, sci, tiny). Importing this package fills the model registry.

Each family module registers its variants with ``register_model`` at import time;
``create_model(name, **kwargs)`` builds any of them by name.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

import torch.nn as nn

from vidquant.registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")
register_model = MODELS.decorator

# Families whose import registers their variants.
_FAMILIES: tuple[str, ...] = (
    "vidquant.models.tiny",
    "vidquant.models.codec",
    "vidquant.models.uvq",
    "vidquant.models.sci",
)


def _load_families() -> None:
    for family in _FAMILIES:
        importlib.import_module(family)


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name``; the name is kept on the module for checkpoints."""
    model = MODELS.get(name)(**kwargs)
    model.vidquant_model = {"name": name, "kwargs": kwargs}
    return model


def list_models() -> list[str]:
    return MODELS.names()


_load_families()
