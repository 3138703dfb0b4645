"""``quantize(model, recipe)``: the one entry point that turns float layers into quantized ones."""

from __future__ import annotations

import fnmatch
import warnings
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn

from vidquant.errors import VidquantError
from vidquant.quant.graph_scope import has_graph_quantizers, keep_attribute, quantize_graph
from vidquant.quant.modules import QUANT_LAYER_FOR, LayerSpecs, QuantLayer
from vidquant.quant.quantizer import FakeQuantizer
from vidquant.quant.recipes import Recipe, RecipeLike, resolve_recipe
from vidquant.registry import closest_names

FLOAT = "float"  # override value that keeps a module in float32
Override = Union[RecipeLike, LayerSpecs, None]
ExampleInputs = Union[Sequence[torch.Tensor], Mapping[str, Sequence[torch.Tensor]], None]

QUANT_STATE_ATTR = "vidquant_quantization"  # list of quantize() calls, replayed when loading


def quantize(
    model: nn.Module,
    recipe: RecipeLike,
    include: Optional[Iterable[str]] = None,
    exclude: Optional[Iterable[str]] = None,
    overrides: Optional[Mapping[str, Override]] = None,
    example_inputs: ExampleInputs = None,
) -> nn.Module:
    """Replace matching layers of ``model`` in place by quantized ones; returns ``model``.

    A graph-scope recipe (``recipe.scope == "graph"``) instead returns a quantized traced copy
    (``torch.fx.GraphModule``; ``model`` unchanged) in which every tensor is quantized once;
    ``example_inputs`` (default: the model's ``example_input_shapes``) drive its trace. With
    ``include``, each outermost matching submodule is traced and swapped in place instead
    (``example_inputs`` then maps those names to their inputs). Exclude / overrides do not
    apply to graph scope. Always use the returned module.

    ``include`` / ``exclude`` are globs over qualified module names or layer type names;
    ``overrides`` maps a glob to another recipe, explicit ``LayerSpecs``, or ``None`` / "float"
    to keep that module in float32. The first matching override wins. A glob that matches
    nothing warns and lists the closest module names.
    """
    base = resolve_recipe(recipe)
    if base.scope == "graph":
        return _quantize_graph_scope(model, base, include, exclude, overrides, example_inputs)
    include, exclude = list(include or []), list(exclude or [])
    resolved_overrides = {glob: _resolve_override(value) for glob, value in (overrides or {}).items()}
    candidates = dict(_quantizable_modules(model))
    all_names = [name for name, _ in model.named_modules() if name]
    for glob in [*include, *exclude, *resolved_overrides]:
        _warn_if_unmatched(glob, model, all_names)

    for name, module in candidates.items():
        if include and not _matches(name, module, include):
            continue
        if exclude and _matches(name, module, exclude):
            continue
        specs = _specs_for(name, module, base, resolved_overrides)
        if specs is None or specs == LayerSpecs():
            continue
        layer = QUANT_LAYER_FOR[type(module)].from_float(module, specs)
        layer.recipe_name = base.name  # type: ignore[attr-defined]  # what a submodule's report shows
        model.set_submodule(name, layer)

    _name_quantizers(model)
    _record_call(model, base, include, exclude, resolved_overrides)
    return model


def _quantize_graph_scope(
    model: nn.Module,
    recipe: Recipe,
    include: Optional[Iterable[str]],
    exclude: Optional[Iterable[str]],
    overrides: Optional[Mapping[str, Override]],
    example_inputs: ExampleInputs,
) -> nn.Module:
    """The whole model traced (a new module), or with ``include`` each outermost matching
    submodule traced on its own and swapped in place (``example_inputs``: name -> inputs)."""
    if exclude or overrides:
        raise VidquantError(f"recipe {recipe.name!r} has graph scope: it quantizes whole traced graphs, "
                            "without exclude / overrides")
    if getattr(model, QUANT_STATE_ATTR, None) and not include:
        raise VidquantError(f"recipe {recipe.name!r} has graph scope and needs a float model; this one is already quantized")
    if not include:
        quantized = quantize_graph(model, recipe.weight, recipe.output, example_inputs, recipe.layer_types)  # type: ignore[arg-type]
        _name_layers(quantized, recipe.name)
        _record_call(quantized, recipe, [], [], {})
        return quantized
    include = list(include)
    inputs = dict(example_inputs or {})  # type: ignore[arg-type]
    shapes: dict[str, list[list[int]]] = {}
    for name in outermost_matches(model, include):
        module = model.get_submodule(name)
        given = inputs.get(name)
        model.set_submodule(name, quantize_graph(module, recipe.weight, recipe.output, given, recipe.layer_types))
        _name_layers(model.get_submodule(name), recipe.name)
        if given is not None:
            shapes[name] = [list(x.shape) for x in given]
    _record_call(model, recipe, include, [], {}, example_shapes=shapes)
    return model


def outermost_matches(model: nn.Module, globs: Iterable[str]) -> list[str]:
    """Qualified names of the submodules matching a glob (name or layer type), outermost only:
    a match inside an earlier match is skipped ("*" also matches dots). None: an error."""
    globs = list(globs)
    names: list[str] = []
    for name, module in model.named_modules():
        if name and not any(name.startswith(done + ".") for done in names) and _matches(name, module, globs):
            names.append(name)
    if not names:
        raise VidquantError(f"no submodule matches {', '.join(globs)}")
    return names


def _resolve_override(value: Override) -> Optional[Union[Recipe, LayerSpecs]]:
    if value is None or value == FLOAT:
        return None
    if isinstance(value, LayerSpecs):
        return value
    return resolve_recipe(value)


def _quantizable_modules(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    for name, module in model.named_modules():
        if type(module) in QUANT_LAYER_FOR and name:
            yield name, module


def _matches(name: str, module: nn.Module, globs: Iterable[str]) -> bool:
    type_name = type(module).__name__
    return any(fnmatch.fnmatchcase(name, glob) or fnmatch.fnmatchcase(type_name, glob) for glob in globs)


def _specs_for(
    name: str, module: nn.Module, base: Recipe, overrides: Mapping[str, Optional[Union[Recipe, LayerSpecs]]]
) -> Optional[LayerSpecs]:
    for glob, override in overrides.items():
        if _matches(name, module, [glob]):
            if override is None or isinstance(override, LayerSpecs):
                return override
            return _recipe_specs(override, module)
    return _recipe_specs(base, module)


def _recipe_specs(recipe: Recipe, module: nn.Module) -> Optional[LayerSpecs]:
    if type(module).__name__ not in recipe.layer_types:
        return None
    return recipe.layer_specs


def _warn_if_unmatched(glob: str, model: nn.Module, names: list[str]) -> None:
    if any(_matches(name, module, [glob]) for name, module in model.named_modules() if name):
        return
    near = closest_names(glob.replace("*", ""), names)
    hint = f"; closest names: {', '.join(near)}" if near else ""
    warnings.warn(f"pattern {glob!r} matches no module{hint}", stacklevel=3)


def _name_layers(model: nn.Module, recipe: str) -> None:
    for _, layer in quant_layers(model):
        if not hasattr(layer, "recipe_name"):
            layer.recipe_name = recipe  # type: ignore[attr-defined]


def is_quantized(model: nn.Module) -> bool:
    """True for a model quantize() changed, or any submodule of one (the calls are recorded on
    the root; a submodule holds its quantizers)."""
    return bool(getattr(model, QUANT_STATE_ATTR, None)) or any(True for _ in quantizers(model))


def submodule_calls(model: nn.Module) -> list[dict[str, Any]]:
    """The quantize() call that reproduces the layer-scope quantized layers of ``model``, a
    submodule of a quantized model (whose own calls are recorded on the root): each layer by
    name with its own specs. A graph-scope (traced) part cannot be replayed this way: an error."""
    layers = list(quant_layers(model))
    if not layers or any(has_graph_quantizers(module) for module in model.modules()):
        raise VidquantError("this module holds no quantize() record and its quantized layers cannot be replayed on "
                            "their own (graph scope); save the model quantize() returned")
    recipe = Recipe(getattr(layers[0][1], "recipe_name", "submodule"), "the layers of a quantized model's submodule",
                    layer_types=())
    call = {"include": [name for name, _ in layers], "exclude": [],
            "overrides": {name: _override_dict(layer.layer_specs) for name, layer in layers}}
    return [{"recipe": recipe.to_dict(), **call}]


def _name_quantizers(model: nn.Module) -> None:
    """Give each quantizer its qualified name, so errors can say which layer failed."""
    for name, module in model.named_modules():
        if isinstance(module, FakeQuantizer):
            module.layer_name = name


def _record_call(
    model: nn.Module,
    recipe: Recipe,
    include: list[str],
    exclude: list[str],
    overrides: Mapping[str, Optional[Union[Recipe, LayerSpecs]]],
    example_shapes: Optional[dict[str, list[list[int]]]] = None,
) -> None:
    call: dict[str, Any] = {
        "recipe": recipe.to_dict(),
        "include": include,
        "exclude": exclude,
        "overrides": {glob: _override_dict(value) for glob, value in overrides.items()},
    }
    if example_shapes is not None:  # graph scope per submodule: the shapes its trace ran on
        call["example_shapes"] = example_shapes
    calls = list(getattr(model, QUANT_STATE_ATTR, []))
    calls.append(call)
    keep_attribute(model, QUANT_STATE_ATTR, calls)


def _override_dict(value: Optional[Union[Recipe, LayerSpecs]]) -> Optional[dict[str, Any]]:
    if value is None:
        return None
    if isinstance(value, Recipe):
        return {"recipe": value.to_dict()}
    return {"layer_specs": {slot: None if spec is None else spec.to_dict() for slot, spec in vars(value).items()}}


def override_from_dict(data: Optional[dict[str, Any]]) -> Optional[Union[Recipe, LayerSpecs]]:
    """Inverse of the recorded override form (used when a checkpoint replays its quantize calls)."""
    from vidquant.quant.spec import QuantSpec

    if data is None:
        return None
    if "recipe" in data:
        return Recipe.from_dict(data["recipe"])
    specs = {slot: None if spec is None else QuantSpec.from_dict(spec) for slot, spec in data["layer_specs"].items()}
    return LayerSpecs(**specs)


def replay_quantization(model: nn.Module, calls: list[dict[str, Any]]) -> nn.Module:
    """Apply recorded quantize() calls to a fresh float model; returns the quantized model
    (a new traced module for graph-scope recipes)."""
    for call in calls:
        overrides = {glob: override_from_dict(value) for glob, value in call["overrides"].items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = quantize(
                model,
                Recipe.from_dict(call["recipe"]),
                include=call["include"],
                exclude=call["exclude"],
                overrides={glob: value if value is not None else FLOAT for glob, value in overrides.items()},
                example_inputs=_random_inputs(call.get("example_shapes")),
            )
    return model


def _random_inputs(shapes: Optional[dict[str, list[list[int]]]]) -> Optional[dict[str, list[torch.Tensor]]]:
    """Stand-in inputs of recorded shapes: a graph-scope trace needs shapes, not values."""
    if shapes is None:
        return None
    return {name: [torch.randn(shape) for shape in group] for name, group in shapes.items()}


def quant_layers(model: nn.Module) -> Iterator[tuple[str, QuantLayer]]:
    """The quantized layers of ``model`` with their qualified names."""
    for name, module in model.named_modules():
        if isinstance(module, QuantLayer):
            yield name, module


def quantizers(model: nn.Module) -> Iterator[tuple[str, FakeQuantizer]]:
    for name, module in model.named_modules():
        if isinstance(module, FakeQuantizer):
            yield name, module


def snap_offsets(model: nn.Module) -> float:
    """Round every LSQ+ offset to an integer zero point, in place, as export does; returns the
    largest shift in steps. Validate a Q-SCI style model after this to see deployed numerics."""
    return max((quantizer.snap_offset() for _, quantizer in quantizers(model)), default=0.0)


def snap_steps(model: nn.Module) -> None:
    """Round every step size with a ``step_dtype`` to that type in place (``save_quantized`` does
    this before writing; ``snap_to_checkpoint`` also snaps the weights)."""
    for _, quantizer in quantizers(model):
        quantizer.snap_step()


@torch.no_grad()
def snap_to_checkpoint(model: nn.Module) -> None:
    """Make the model in memory the one its checkpoint reproduces, state for state: steps rounded
    to their ``step_dtype`` (``snap_steps``), then each quantized weight replaced by its dequantized
    integer codes (against the rounded steps, hence this order)."""
    snap_steps(model)
    for _, layer in quant_layers(model):
        quantizer = layer.weight_quant
        if quantizer is not None and quantizer.has_integer_codes and quantizer.is_initialized:
            layer.weight.copy_(quantizer.dequantize_codes(quantizer.int_codes(layer.weight)))
