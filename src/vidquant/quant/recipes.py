"""Recipes: named, versioned, plain-data descriptions of what a model's layers become.

A recipe says which layer types it applies to and the weight / input / output quantizer
specs they get. Built-ins are registered by name; users pass a JSON file path instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional, Union

from vidquant.errors import VidquantError
from vidquant.quant.fields import check_field
from vidquant.quant.granularity import PerBlock, PerChannel, PerRow, PerTensor
from vidquant.quant.spec import LayerSpecs, QuantSpec
from vidquant.registry import Registry

RECIPE_FORMAT_VERSION = 1
ALL_LAYER_TYPES = ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d", "Linear", "MatMul")
WEIGHTED_LAYER_TYPES = tuple(t for t in ALL_LAYER_TYPES if t != "MatMul")
# "layers": each selected layer gets its weight / input / output quantizers, in place.
# "graph": the model is traced and every tensor is quantized once where it is made (the
# ``output`` spec), weighted layers get the ``weight`` spec; see vidquant.quant.graph_scope.
SCOPES = ("layers", "graph")


@dataclass(frozen=True)
class Recipe:
    """What every selected layer becomes; ``layer_types`` names the torch layer classes it touches."""

    name: str
    description: str
    weight: Optional[QuantSpec] = None
    input: Optional[QuantSpec] = None
    output: Optional[QuantSpec] = None
    layer_types: tuple[str, ...] = ALL_LAYER_TYPES
    version: int = RECIPE_FORMAT_VERSION
    scope: str = "layers"

    def __post_init__(self) -> None:
        owner = f"recipe {self.name!r}"
        for name, kind in (("name", str), ("description", str), ("version", int), ("scope", str)):
            check_field(owner, name, getattr(self, name), kind)
        if not isinstance(self.layer_types, tuple) or not all(isinstance(t, str) for t in self.layer_types):
            raise VidquantError(f"{owner}: layer_types must be a list of layer type names, got {self.layer_types!r}")
        for slot in ("weight", "input", "output"):
            if getattr(self, slot) is not None and not isinstance(getattr(self, slot), QuantSpec):
                raise VidquantError(f"{owner}: {slot} must be a quantizer spec or null, got {getattr(self, slot)!r}")
        if self.scope not in SCOPES:
            raise VidquantError(f"recipe {self.name!r}: scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        if self.scope == "graph" and (self.output is None or self.input is not None):
            raise VidquantError(f"recipe {self.name!r}: a graph-scope recipe quantizes every tensor with its "
                                "'output' spec and takes no 'input' spec")
        unknown = set(self.layer_types) - set(ALL_LAYER_TYPES)
        if unknown:
            raise VidquantError(
                f"recipe {self.name!r}: unknown layer type(s) {', '.join(sorted(unknown))}; "
                f"valid: {', '.join(ALL_LAYER_TYPES)}"
            )
        if self.version > RECIPE_FORMAT_VERSION:
            raise VidquantError(f"recipe {self.name!r} has format version {self.version}; this vidquant reads up to {RECIPE_FORMAT_VERSION}")

    @property
    def integer_deployment(self) -> tuple[bool, str]:
        """Whether ONNX Runtime (CPU) runs this recipe's layers as integer kernels once exported,
        and why (derived from the specs; not stored)."""
        static_int8 = lambda spec: spec is not None and not (spec.is_float or spec.dynamic) and spec.bits <= 8  # noqa: E731
        integer_weights = static_int8(self.weight) and self.weight.granularity.kind != "per_block"  # type: ignore[union-attr]
        if self.scope == "graph" and integer_weights and static_int8(self.output) \
                and self.output.granularity.kind == "per_tensor":  # type: ignore[union-attr]
            return True, ("every tensor is on a static uint8 grid where it is made: Conv, Linear, Add, Mul, Sigmoid "
                          "fuse into QLinear kernels")
        if self.input is not None and self.input.dynamic and integer_weights:
            return True, "inputs quantized at run time: ConvInteger / MatMulInteger (onnxruntime quantize_dynamic)"
        if integer_weights and static_int8(self.input):
            return False, ("layer inputs are quantized but outputs stay float: a layer fuses into an integer kernel "
                           "only where the next layer's input quantizer follows it directly; use w8a8-static")
        return False, "weights (and inputs) are dequantized to float: ONNX Runtime runs float kernels"

    @property
    def layer_specs(self) -> LayerSpecs:
        return LayerSpecs(weight=self.weight, input=self.input, output=self.output)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "layer_types": list(self.layer_types),
            "scope": self.scope,
            **{slot: _spec_dict(getattr(self, slot)) for slot in ("weight", "input", "output")},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Recipe":
        missing = {"name", "description"} - set(data)
        if missing:
            raise VidquantError(f"recipe is missing field(s): {', '.join(sorted(missing))}")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise VidquantError(f"recipe {data['name']!r}: unknown field(s) {', '.join(sorted(unknown))}")
        fields = dict(data)
        for slot in ("weight", "input", "output"):
            if fields.get(slot) is not None:
                try:
                    fields[slot] = QuantSpec.from_dict(fields[slot])
                except VidquantError as error:
                    raise VidquantError(f"recipe {data['name']!r}, {slot}: {error}") from None
        if isinstance(fields.get("layer_types"), list):
            fields["layer_types"] = tuple(fields["layer_types"])
        return cls(**fields)


def _spec_dict(spec: Optional[QuantSpec]) -> Optional[dict[str, Any]]:
    return None if spec is None else spec.to_dict()


RECIPES: Registry[Recipe] = Registry("recipe")


def register_recipe(recipe: Recipe) -> Recipe:
    return RECIPES.register(recipe.name, recipe)


def list_recipes() -> list[Recipe]:
    return [RECIPES.get(name) for name in RECIPES.names()]


RecipeLike = Union[str, Path, Recipe]


def resolve_recipe(recipe: RecipeLike) -> Recipe:
    """A Recipe from itself, a registered name, or a path to a recipe JSON file."""
    if isinstance(recipe, Recipe):
        return recipe
    text = str(recipe)
    if text in RECIPES:
        return RECIPES.get(text)
    if text.endswith(".json") or Path(text).is_file():
        return load_recipe_file(Path(text))
    return RECIPES.get(text)  # raises with the valid names


def load_recipe_file(path: Path) -> Recipe:
    if not path.is_file():
        raise VidquantError(f"recipe file {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise VidquantError(f"recipe file {path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise VidquantError(f"recipe file {path} must hold a JSON object")
    return Recipe.from_dict(data)


# ---- built-in recipes -----------------------------------------------------------------
_INT8_PER_CHANNEL = QuantSpec(bits=8, granularity=PerChannel())
# LSQ steps start from the MSE-optimal clipping of the data: at 8 bits the paper's
# 2*mean|x|/sqrt(Qp) start (observer "lsq") is ~20 dB worse and training has to undo it.
_LSQ_WEIGHT = QuantSpec(bits=8, granularity=PerChannel(), learn="step", observer="mse")
# The decoder recipes store the per-channel weight steps as float16 (a depthwise 3x3 channel has
# only 9 int8 weights; a float32 step would add 44 % to its bytes).
_LSQ_WEIGHT_FP16_STEP = replace(_LSQ_WEIGHT, step_dtype="float16")
_LSQ_ACT = QuantSpec(bits=8, granularity=PerTensor(), learn="step", observer="mse")
# One range per GEMM row, as TFLite's dynamic-range (hybrid) kernels take one per batch row:
# one range per whole tensor lets a few large pixels set the step for all others.
_DYNAMIC_UINT8 = QuantSpec(bits=8, signed=False, symmetric=False, dynamic=True, granularity=PerRow())
_LSQ_PLUS_ACT = QuantSpec(bits=8, signed=False, symmetric=False, learn="step+offset", observer="mse")
_FP16 = QuantSpec(bits=16, float_dtype="float16")
_STATIC_UINT8 = QuantSpec(bits=8, signed=False, symmetric=False, observer="mse")
# Graph-scope (integer-kernel) weights: 7-bit codes [-64, 63] in an int8 container. ONNX Runtime's
# uint8 x int8 kernels on CPUs without VNNI (AVX2, AVX-512BW: vpmaddubsw) add each pair of products
# in int16 with saturation; with |w| <= 64 a pair is at most 255 * 64 * 2 = 32640 < 32767, so every
# CPU computes the exact int32 sums that VNNI and PyTorch's emulation compute (docs/runtime.md).
INTEGER_WEIGHT_BITS = 7
_INTEGER_WEIGHT = _LSQ_WEIGHT.with_bits(INTEGER_WEIGHT_BITS)

BUILTIN_RECIPES = (
    Recipe("int8-lsq-w", "LSQ int8 weights per channel (float16 steps), float activations (the published DCVC-RT decoder baseline)",
           weight=_LSQ_WEIGHT_FP16_STEP, layer_types=WEIGHTED_LAYER_TYPES),
    Recipe("w8a8-lsq", "LSQ int8 weights per channel (float16 steps) and int8 inputs per tensor, learned step sizes",
           weight=_LSQ_WEIGHT_FP16_STEP, input=_LSQ_ACT),
    Recipe("w4a8-lsq", "LSQ int4 weights per channel (float16 steps) and int8 inputs per tensor, learned step sizes",
           weight=_LSQ_WEIGHT_FP16_STEP.with_bits(4), input=_LSQ_ACT),
    Recipe("w8a8-static", "int8 weights per channel with 7-bit codes [-64, 63] (exact on AVX2 kernels) and every "
           "tensor uint8 per tensor where it is made (graph scope): integer runtimes run the whole graph in integer "
           "kernels", weight=_INTEGER_WEIGHT, output=_STATIC_UINT8,
           layer_types=WEIGHTED_LAYER_TYPES, scope="graph"),
    Recipe("dynamic-int8", "int8 weights per channel (min/max), uint8 inputs measured at run time per GEMM row "
           "(per pixel for 1x1 convolutions, per channel for depthwise ones, per image otherwise)",
           weight=_INT8_PER_CHANNEL, input=_DYNAMIC_UINT8),
    Recipe("weight-only-int8", "int8 weights per channel (min/max), float activations",
           weight=_INT8_PER_CHANNEL, layer_types=WEIGHTED_LAYER_TYPES),
    Recipe("fp16", "float16 weights and inputs", weight=_FP16, input=_FP16),
    Recipe("int4-block128", "symmetric int4 weights in blocks of 128 input elements (min/max), float activations",
           weight=QuantSpec(bits=4, granularity=PerBlock(128)), layer_types=WEIGHTED_LAYER_TYPES),
    *(
        Recipe(f"qsci-w{bits}", f"Q-SCI {bits}-bit: LSQ symmetric per-channel weights, LSQ+ asymmetric inputs",
               weight=_LSQ_WEIGHT.with_bits(bits), input=replace(_LSQ_PLUS_ACT, bits=bits))
        for bits in (8, 4, 3, 2)
    ),
)

for _recipe in BUILTIN_RECIPES:
    register_recipe(_recipe)


def integer_form(recipe: RecipeLike) -> Recipe:
    """The deployable integer form of ``recipe``: graph scope (every tensor quantized once where it
    is made, run whole by integer kernels), weights at most ``INTEGER_WEIGHT_BITS`` bits (exact on
    every CPU), every tensor on the recipe's activation (``input``) spec. A weight-only recipe's
    float activations are computed differently by every CPU's float kernels, so its integer form
    quantizes them with static uint8 ranges, as ``w8a8-static`` does. A graph-scope recipe is
    returned as it is."""
    base = resolve_recipe(recipe)
    if base.scope == "graph":
        return base
    if base.weight is None or base.weight.is_float or base.weight.dynamic:
        raise VidquantError(f"recipe {base.name!r} has no integer weights: it has no integer (graph-scope) form")
    activation = base.input if base.input is not None else _STATIC_UINT8
    weight = base.weight.with_bits(min(base.weight.bits, INTEGER_WEIGHT_BITS))
    return Recipe(f"{base.name}-graph", f"{base.description}; graph scope: every tensor quantized where it is made, "
                  f"weights at most {INTEGER_WEIGHT_BITS} bits (integer kernels)", weight=weight, output=activation,
                  layer_types=base.layer_types, scope="graph")
