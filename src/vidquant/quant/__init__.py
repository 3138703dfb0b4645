"""Quantizers, quantized layers, recipes and the ``quantize`` entry point (imports torch only)."""

from vidquant.quant.api import (
    FLOAT,
    outermost_matches,
    quant_layers,
    quantize,
    quantizers,
    replay_quantization,
    snap_offsets,
    snap_steps,
)
from vidquant.quant.granularity import PerBlock, PerChannel, PerRow, PerTensor
from vidquant.quant.modules import (
    QUANT_LAYER_FOR,
    LayerSpecs,
    MatMul,
    QuantConv1d,
    QuantConv2d,
    QuantConv3d,
    QuantConvTranspose2d,
    QuantLayer,
    QuantLinear,
    QuantMatMul,
)
from vidquant.quant.observers import OBSERVERS, make_observer
from vidquant.quant.plan import QuantPlan
from vidquant.quant.quantizer import FakeQuantizer
from vidquant.quant.recipes import RECIPES, Recipe, list_recipes, load_recipe_file, register_recipe, resolve_recipe
from vidquant.quant.spec import QuantSpec

__all__ = [
    "FLOAT", "OBSERVERS", "QUANT_LAYER_FOR", "RECIPES", "FakeQuantizer", "LayerSpecs", "MatMul",
    "PerBlock", "PerChannel", "PerRow", "PerTensor", "QuantConv1d", "QuantConv2d", "QuantConv3d",
    "QuantConvTranspose2d", "QuantLayer", "QuantLinear", "QuantMatMul", "QuantPlan", "QuantSpec", "Recipe",
    "list_recipes", "load_recipe_file", "make_observer", "outermost_matches", "quant_layers", "quantize", "quantizers",
    "register_recipe", "replay_quantization", "resolve_recipe", "snap_offsets", "snap_steps",
]
