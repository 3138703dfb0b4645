"""``export_tflite``: a float PyTorch model as a LiteRT (TFLite) flatbuffer, quantized by
litert-torch's own recipes (the ones the published UVQ 1.5 INT8 workflow uses), so that sizes
and numerics are comparable with files made by that workflow.

LiteRT is optional (``pip install -e ".[litert]"``): litert-torch and ai-edge-litert are
imported only here, inside the functions, and their absence is a one-line error.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn as nn

from vidquant.errors import VidquantError, first_line

INSTALL_HINT = 'pip install -e ".[litert]"'
FP32 = "fp32"
# vidquant recipe name -> (litert-torch recipe function, its keyword arguments as attribute names)
# in litert_torch.generative.quantize: quant_recipes.<function>(mcfg=None, **kwargs).
LITERT_RECIPES: dict[str, tuple[str, dict[str, str]]] = {
    "dynamic-int8": ("full_dynamic_recipe", {"weight_dtype": "Dtype.INT8", "granularity": "Granularity.CHANNELWISE"}),
    "weight-only-int8": (
        "full_weight_only_recipe", {"weight_dtype": "Dtype.INT8", "granularity": "Granularity.CHANNELWISE"}
    ),
    "fp16": ("full_fp16_recipe", {}),
    # LiteRT has int4 blocks only with run-time (dynamic) activation quantization: the published
    # workflow's INT4 option; vidquant's int4-block128 keeps float activations.
    "int4-block128": ("full_dynamic_recipe", {"weight_dtype": "Dtype.INT4", "granularity": "Granularity.BLOCKWISE_128"}),
}
TFLITE_RECIPES: tuple[str, ...] = (*LITERT_RECIPES, FP32)


def import_litert(module: str) -> Any:
    """``module`` of the LiteRT extra, or a one-line error naming the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise VidquantError(f"LiteRT support needs the optional extra ({first_line(error)}): {INSTALL_HINT}") from None


def litert_available() -> bool:
    """Whether the LiteRT extra is installed (without importing it)."""
    return all(importlib.util.find_spec(name) is not None for name in ("litert_torch", "ai_edge_litert"))


def recipe_call(recipe: str) -> str:
    """The litert-torch call a recipe maps to, as text (for manifests and docs)."""
    if recipe == FP32:
        return "none (float32)"
    function, kwargs = _recipe_entry(recipe)
    args = ", ".join(["mcfg=None", *(f"{key}=quant_attrs.{value}" for key, value in kwargs.items())])
    return f"quant_recipes.{function}({args})"


def litert_quant_config(recipe: str) -> Any:
    """litert-torch's QuantConfig of ``recipe`` (None for fp32)."""
    if recipe == FP32:
        return None
    function, kwargs = _recipe_entry(recipe)
    recipes = import_litert("litert_torch.generative.quantize.quant_recipes")
    attrs = import_litert("litert_torch.generative.quantize.quant_attrs")
    values = {}
    for key, value in kwargs.items():
        enum, member = value.split(".")
        values[key] = getattr(getattr(attrs, enum), member)
    return getattr(recipes, function)(mcfg=None, **values)


def _recipe_entry(recipe: str) -> tuple[str, dict[str, str]]:
    if recipe not in LITERT_RECIPES:
        raise VidquantError(f"no LiteRT form of recipe {recipe!r}; valid: {', '.join(TFLITE_RECIPES)}")
    return LITERT_RECIPES[recipe]


@dataclass(frozen=True)
class TfliteResult:
    path: Path
    recipe: str

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


def export_tflite(model: nn.Module, example_inputs: Sequence[torch.Tensor], path: str | Path, recipe: str = FP32) -> TfliteResult:
    """Convert the float ``model`` with litert-torch at the inputs' static shapes and write ``path``.

    ``recipe`` is one of ``TFLITE_RECIPES`` (litert-torch quantizes the weights itself: pass the
    float model, not a vidquant-quantized one). litert-torch's progress lines are silenced."""
    config = litert_quant_config(recipe)  # checks the recipe name first
    litert_torch = import_litert("litert_torch")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    litert_torch.config.show_progress = False
    try:
        # ai-edge-quantizer prints its size summary on stdout; keep stdout for results.
        with contextlib.redirect_stdout(io.StringIO()), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecation notes of torch.export internals
            converted = litert_torch.convert(model.eval(), tuple(example_inputs), quant_config=config)
            converted.export(str(path))
    except VidquantError:
        raise
    except Exception as error:  # the converter raises many types; the user needs one line
        raise VidquantError(f"LiteRT conversion to {path.name} failed: {first_line(error)}") from None
    return TfliteResult(path, recipe)
