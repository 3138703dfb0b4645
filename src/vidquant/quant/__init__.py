"""Quantizers, quantized layers, recipes and the ``quantize`` entry point (imports torch only).

The names load lazily (``vidquant.lazy``), so that the recipe table (``vidquant.quant.recipes``,
``vidquant.quant.spec``) reads without torch; ``from vidquant.quant import quantize`` works as usual.
"""

from vidquant.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "vidquant.quant.api": (
        "FLOAT", "outermost_matches", "quant_layers", "quantize", "quantizers", "replay_quantization",
        "snap_offsets", "snap_steps", "snap_to_checkpoint",
    ),
    "vidquant.quant.granularity": ("PerBlock", "PerChannel", "PerRow", "PerTensor"),
    "vidquant.quant.modules": (
        "QUANT_LAYER_FOR", "MatMul", "QuantConv1d", "QuantConv2d", "QuantConv3d", "QuantConvTranspose2d",
        "QuantLayer", "QuantLinear", "QuantMatMul",
    ),
    "vidquant.quant.observers": ("OBSERVERS", "make_observer"),
    "vidquant.quant.plan": ("QuantPlan",),
    "vidquant.quant.quantizer": ("FakeQuantizer",),
    "vidquant.quant.recipes": ("RECIPES", "Recipe", "list_recipes", "load_recipe_file", "register_recipe", "resolve_recipe"),
    "vidquant.quant.spec": ("LayerSpecs", "QuantSpec"),
})
