"""How an EfficientSCI network is quantized under each Q-SCI recipe (``QuantPlan`` values)."""

from __future__ import annotations

from vidquant.models.sci.config import SCIConfig
from vidquant.quant.plan import QuantPlan

QSCI_RECIPES: tuple[str, ...] = ("qsci-w8", "qsci-w4", "qsci-w3", "qsci-w2")
# Shortcut convs stay 8-bit whatever the backbone's width (Q-SCI keeps them at 8 bits).
SHORTCUT_RECIPE = "qsci-w8"


def qsci_plan(recipe: str, config: SCIConfig) -> QuantPlan:
    """``recipe`` on every layer, the FEM / VRM shortcut convs at ``SHORTCUT_RECIPE`` (only those
    the network has: globs that match nothing would warn)."""
    overrides = {f"{part}.*.shortcut*": SHORTCUT_RECIPE
                 for part, on in (("fem", config.fem_shortcut), ("vrm", config.vrm_shortcut)) if on}
    return QuantPlan(recipe, overrides=overrides, reason="shortcut convs at 8 bits" if overrides else "")


def qsci_plans(config: SCIConfig) -> dict[str, QuantPlan]:
    return {recipe: qsci_plan(recipe, config) for recipe in QSCI_RECIPES}
