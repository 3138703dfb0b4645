"""How each UVQ 1.5 network is quantized under each recipe it supports (``QuantPlan`` values).

Every recipe quantizes the weights of every Conv2d / Linear of the three networks: none needed
exclusions to meet the size targets, and the report shows what each costs in accuracy.
dynamic-int8 leaves the inputs of three layers in float (their weights stay int8, so weight bytes
and coverage do not change; the report's coverage column counts them as "float in").
The plans apply to the BatchNorm-folded networks (folding keeps the module names).
"""

from __future__ import annotations

from vidquant.errors import VidquantError
from vidquant.quant.plan import QuantPlan

from vidquant.models.uvq.config import NET_NAMES

UVQ_RECIPES: tuple[str, ...] = ("dynamic-int8", "weight-only-int8", "fp16", "int4-block128")

PLANS: dict[str, dict[str, QuantPlan]] = {net: {r: QuantPlan(r) for r in UVQ_RECIPES} for net in NET_NAMES}
# The stem's input is the bilinear 256x256 resize of the frame, off the 8-bit grid: uint8 codes
# per image requantize the picture. Of the layers measured one by one (stem to block 12) its
# run-time input rounding costs most (calibration-clip frames: +2.6 points of feature error
# alone, the next layer +1.2, most < 0.1); 27 inputs per output, 2.9 % of the trunk's MACs.
# distortion_net's stem sees native 8-bit pixels, which per-image codes keep: no gain measured.
PLANS["content_net"]["dynamic-int8"] = QuantPlan(
    "dynamic-int8", float_inputs=("features.0.0.conv",), reason="stem input is the resized frame, off the 8-bit grid"
)
# 1 M MACs in all: run-time quantization saves nothing here and its rounding lands on the score.
PLANS["aggregation_net"]["dynamic-int8"] = QuantPlan(
    "dynamic-int8", float_inputs=("conv1", "linear1"), reason="1 M MACs; input rounding lands directly on the score"
)


def network_plan(net: str, recipe: str) -> QuantPlan:
    """The plan of ``recipe`` for the network ``net``; unknown recipes fail in one line."""
    if recipe not in UVQ_RECIPES:
        raise VidquantError(f"unknown UVQ recipe {recipe!r}; valid: {', '.join(UVQ_RECIPES)}")
    return PLANS[net][recipe]
