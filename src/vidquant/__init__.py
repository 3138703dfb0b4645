"""vidquant: quantize neural video models and measure the quality they keep.

The three verbs most users need live here: ``quantize`` (float layers -> quantized layers
by recipe), ``distill`` / ``calibrate_ptq`` (set the step sizes) and ``report``.

The names load lazily (``vidquant.lazy``): ``import vidquant`` imports no torch; the first use
of a name imports its module (``from vidquant import quantize`` works as usual).
"""

from vidquant.lazy import lazy_exports

__version__ = "0.1.0"
__getattr__, __all__ = lazy_exports(__name__, {
    "vidquant.analysis": ("report",),
    "vidquant.calibrate": ("calibrate_ptq", "distill"),
    "vidquant.quant": ("list_recipes", "quantize"),
    "vidquant.quant.checkpoint": ("load_quantized", "save_quantized"),
})
