"""Video snapshot compressive imaging: EfficientSCI reconstruction (Q-SCI's backbone).

Importing registers one model per preset (``create_model("efficientsci-s")``); keyword
arguments override preset fields, e.g. ``create_model("efficientsci-s", fem_shortcut=True)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from vidquant.models import register_model
from vidquant.models.sci.config import PRESETS, SCIConfig, get_preset
from vidquant.models.sci.forward_model import initial_estimate, measure, random_masks
from vidquant.models.sci.layers import MatMul
from vidquant.models.sci.network import EfficientSCI, count_parameters

__all__ = [
    "PRESETS", "SCIConfig", "get_preset", "EfficientSCI", "MatMul", "count_parameters",
    "measure", "random_masks", "initial_estimate", "build",
]


def build(preset: str, **overrides: Any) -> EfficientSCI:
    """EfficientSCI for ``preset`` with some config fields replaced."""
    return EfficientSCI(dataclasses.replace(get_preset(preset), **overrides))


def _factory(preset: str) -> Callable[..., EfficientSCI]:
    return lambda **overrides: build(preset, **overrides)


for _name in PRESETS:
    register_model(_name)(_factory(_name))
