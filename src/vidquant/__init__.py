"""vidquant: quantize neural video models and measure the quality they keep.

The three verbs most users need live here: ``quantize`` (float layers -> quantized layers
by recipe), ``distill`` / ``calibrate_ptq`` (set the step sizes) and ``report``.
"""

from vidquant.analysis import report
from vidquant.calibrate import calibrate_ptq, distill
from vidquant.quant import list_recipes, quantize
from vidquant.quant.checkpoint import load_quantized, save_quantized

__version__ = "0.1.0"
__all__ = ["calibrate_ptq", "distill", "list_recipes", "load_quantized", "quantize", "report", "save_quantized"]
