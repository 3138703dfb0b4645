"""Model families (codec, uvq, sci, tiny). Importing this package fills the model registry.

Each family module registers its models with ``register_model(name, plans=...)`` at import
time: a factory taking keyword arguments, and optionally the ``QuantPlan`` per recipe the
model supports (a function of the same keyword arguments, since a plan may depend on how the
model is built). ``create_model(name, **kwargs)`` builds any model by name and
``model_plan(name, recipe, **kwargs)`` gives its plan.

A quantized checkpoint names its model as ``{"name": ..., "kwargs": {...}}`` (the header's
``model``), so loading any of them is ``create_model(name, **kwargs)`` + ``load_quantized``:
``load_quantized_model(path)``. The kwargs describe the architecture only; the tensors all
come from the file.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import torch.nn as nn

from vidquant.errors import VidquantError
from vidquant.quant.plan import QuantPlan
from vidquant.registry import Registry

PlansFunction = Callable[..., Mapping[str, QuantPlan]]


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its factory and the plans of the recipes it supports (or None)."""

    factory: Callable[..., nn.Module]
    plans: Optional[PlansFunction] = None


MODELS: Registry[ModelEntry] = Registry("model")

# Families whose import registers their models.
_FAMILIES: tuple[str, ...] = (
    "vidquant.models.tiny",
    "vidquant.models.codec",
    "vidquant.models.uvq",
    "vidquant.models.sci",
)


def register_model(name: str, plans: Optional[PlansFunction] = None) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """``@register_model("name", plans=f)`` on a factory: ``f(**kwargs)`` maps each recipe the model
    built with those kwargs supports to its ``QuantPlan``; it is called only when a plan is asked for."""

    def decorator(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS.register(name, ModelEntry(factory, plans))
        return factory

    return decorator


def _load_families() -> None:
    for family in _FAMILIES:
        importlib.import_module(family)


def set_model_info(model: nn.Module, name: str, **kwargs: Any) -> nn.Module:
    """Record on ``model`` the registered model it is (what ``save_quantized`` writes)."""
    object.__setattr__(model, "vidquant_model", {"name": name, "kwargs": kwargs})
    return model


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name``; the name is kept on the module for checkpoints."""
    return set_model_info(MODELS.get(name).factory(**kwargs), name, **kwargs)


def list_models() -> list[str]:
    return MODELS.names()


def model_plans(name: str, **kwargs: Any) -> dict[str, QuantPlan]:
    """Recipe -> plan for the model ``name`` built with ``kwargs`` (empty: no recipe declared)."""
    entry = MODELS.get(name)
    return dict(entry.plans(**kwargs)) if entry.plans is not None else {}


def model_plan(name: str, recipe: str, **kwargs: Any) -> QuantPlan:
    """The plan of ``recipe`` for the model ``name``; a one-line error if it declares none."""
    plans = model_plans(name, **kwargs)
    if recipe not in plans:
        valid = ", ".join(plans) or "none"
        raise VidquantError(f"model {name!r} has no plan for recipe {recipe!r}; its recipes: {valid}")
    return plans[recipe]


def checkpoint_model(path: str | Path) -> Optional[dict[str, Any]]:
    """``{"name", "kwargs"}`` of the registered model a quantized checkpoint was saved from, or None."""
    from vidquant.quant.checkpoint import read_header

    header = read_header(path)
    info = header["model"]
    if info is None or "name" not in info:
        info = _legacy_model_info(info, header["extra"])
    return info


def _legacy_model_info(info: Optional[dict[str, Any]], extra: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The model of a checkpoint written before every family recorded ``{name, kwargs}``:
    Q-SCI's ``{family, config, variant}``, UVQ's ``uvq_net`` and a codec student's ``preset`` in
    the extra metadata (a student holds every tensor of its preset, so the name is enough)."""
    if info is not None and info.get("family") == "sci":
        from vidquant.models.sci import SCIConfig, sci_model_info

        return sci_model_info(SCIConfig.from_dict(info["config"]))
    if info is None and "uvq_net" in extra:
        from vidquant.models.uvq import network_model_info

        return network_model_info(extra["uvq_net"])
    if info is None and "float_fingerprint" in extra and extra.get("preset") in MODELS:
        return {"name": extra["preset"], "kwargs": {}}
    return None


def load_quantized_model(path: str | Path) -> nn.Module:
    """The quantized model in ``path``: the registered model its header names, built with the
    recorded kwargs, with the recorded quantization and the file's tensors."""
    from vidquant.quant.checkpoint import load_quantized

    info = checkpoint_model(path)
    if info is None:
        raise VidquantError(f"{path} names no registered model; load it in Python with "
                            "vidquant.load_quantized(model, path)")
    model = load_quantized(create_model(info["name"], **info["kwargs"]), path)
    return set_model_info(model, info["name"], **info["kwargs"])


_load_families()
