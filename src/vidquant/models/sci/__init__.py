"""Video snapshot compressive imaging: EfficientSCI reconstruction (Q-SCI's backbone).

Importing registers one model per preset (``create_model("efficientsci-s")``); keyword
arguments override preset fields, e.g. ``create_model("efficientsci-s", fem_shortcut=True)``.
Each declares the Q-SCI recipes qsci-w8/w4/w3/w2 (``plans.qsci_plan``); a Q-SCI variant is the
preset with its switches as kwargs (``sci_model_info``), which is what its checkpoint records.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from vidquant.models import register_model
from vidquant.models.sci.config import PRESETS, SCIConfig, get_preset
from vidquant.models.sci.forward_model import initial_estimate, measure, random_masks
from vidquant.models.sci.layers import MatMul
from vidquant.models.sci.network import EfficientSCI, count_parameters
from vidquant.models.sci.plans import qsci_plans

__all__ = [
    "PRESETS", "SCIConfig", "get_preset", "EfficientSCI", "MatMul", "count_parameters",
    "measure", "random_masks", "initial_estimate", "build", "sci_model_info",
]


def build(preset: str, **overrides: Any) -> EfficientSCI:
    """EfficientSCI for ``preset`` with some config fields replaced."""
    return EfficientSCI(dataclasses.replace(get_preset(preset), **overrides))


def sci_model_info(config: SCIConfig) -> dict[str, Any]:
    """``{name, kwargs}`` that rebuild a network of ``config``: the preset it differs least from
    (the first of equals) and the differing fields as kwargs."""

    def differences(preset: str) -> dict[str, Any]:
        base = get_preset(preset).to_dict()
        return {key: value for key, value in config.to_dict().items() if base[key] != value}

    name = min(PRESETS, key=lambda preset: len(differences(preset)))
    return {"name": name, "kwargs": differences(name)}


def _register(preset: str) -> None:
    def factory(**overrides: Any) -> EfficientSCI:
        return build(preset, **overrides)

    # The kwargs are the config fields, defaults the preset's (what `vidquant models` shows).
    factory.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=value)
        for key, value in get_preset(preset).to_dict().items()
    ])
    register_model(preset, plans=lambda **overrides: qsci_plans(dataclasses.replace(get_preset(preset), **overrides)))(
        factory
    )


for _name in PRESETS:
    _register(_name)
