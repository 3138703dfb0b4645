"""``QuantPlan``: how one model is quantized under one recipe, as plain data.

A model family declares one plan per recipe it supports (``vidquant.models.register_model``);
callers apply it with ``quantize(model, **plan.quantize_args())``. A plan names, by glob over
qualified module names or layer type names (as ``quantize`` reads them):

- ``include`` / ``exclude``: the modules the recipe touches / keeps in float32;
- ``overrides``: modules given another recipe (name or ``Recipe``) or explicit ``LayerSpecs``;
- ``weight_bits``: modules whose weights keep at least this many bits where the recipe's are
  narrower (their input / output quantizers stay the recipe's), e.g. 8-bit weights under a
  4-bit recipe;
- ``float_inputs``: modules that keep the recipe's weight (and output) quantizer but take
  float inputs;
- ``frozen_ranges``: modules whose input ranges a calibration sets once from long runs of the
  float model and then keeps fixed (``quantize`` does not read it; the calibration does);
- ``reason``: why the plan departs from the bare recipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Union

from vidquant.errors import VidquantError
from vidquant.quant.spec import LayerSpecs
from vidquant.quant.recipes import Recipe, resolve_recipe

PlanOverride = Union[str, Recipe, LayerSpecs]


@dataclass(frozen=True)
class QuantPlan:
    """How a model is quantized under ``recipe`` (see the module docstring for each field).

    Overrides apply in the order: ``overrides``, ``weight_bits``, ``float_inputs``; a glob may
    appear in only one of ``exclude``, ``overrides``, ``weight_bits`` and ``float_inputs``."""

    recipe: Union[str, Recipe]
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    overrides: Mapping[str, PlanOverride] = field(default_factory=dict)
    weight_bits: Mapping[str, int] = field(default_factory=dict)
    float_inputs: tuple[str, ...] = ()
    frozen_ranges: tuple[str, ...] = ()
    reason: str = ""

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for kind, globs in (("exclude", self.exclude), ("overrides", self.overrides),
                            ("weight_bits", self.weight_bits), ("float_inputs", self.float_inputs)):
            for glob in globs:
                if glob in seen:
                    raise VidquantError(f"plan for {self.recipe_name!r}: {glob!r} is in both {seen[glob]} and {kind}")
                seen[glob] = kind

    @property
    def recipe_name(self) -> str:
        return self.recipe.name if isinstance(self.recipe, Recipe) else self.recipe

    def quantize_args(self) -> dict[str, Any]:
        """The keyword arguments of ``vidquant.quant.quantize`` (all but the model and
        ``example_inputs``) that apply this plan."""
        recipe = resolve_recipe(self.recipe)
        overrides: dict[str, Any] = dict(self.overrides)
        weight = recipe.weight
        for glob, bits in self.weight_bits.items():
            if weight is not None and not weight.is_float and weight.bits < bits:
                overrides[glob] = LayerSpecs(weight=weight.with_bits(bits), input=recipe.input, output=recipe.output)
        for glob in self.float_inputs:
            overrides[glob] = LayerSpecs(weight=weight, output=recipe.output)
        return {"recipe": recipe, "include": list(self.include), "exclude": list(self.exclude), "overrides": overrides}

    def summary(self) -> str:
        """One line: what the plan changes against the bare recipe ("recipe as is" if nothing)."""
        parts = []
        if self.include:
            parts.append(f"only the modules of {len(self.include)} include glob(s)")
        if self.exclude:
            parts.append(f"float32: {', '.join(self.exclude)}")
        for glob, value in self.overrides.items():
            label = value if isinstance(value, str) else getattr(value, "name", "own specs")
            parts.append(f"{glob} -> {label}")
        for bits in sorted(set(self.weight_bits.values())):
            globs = [glob for glob, b in self.weight_bits.items() if b == bits]
            parts.append(f"at least {bits}-bit weights: {', '.join(globs)}")
        if self.float_inputs:
            parts.append(f"float inputs: {', '.join(self.float_inputs)}")
        if self.frozen_ranges:
            parts.append(f"frozen input ranges: {', '.join(self.frozen_ranges)}")
        return "; ".join(parts) or "recipe as is"
