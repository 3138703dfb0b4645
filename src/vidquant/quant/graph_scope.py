"""Graph-scope quantization: every tensor of the traced model quantized once, where it is made.

Layer recipes quantize what a layer reads; between layers the residual adds, gates and scalings
stay float, so an integer runtime brackets each of them with dequantize / quantize passes and
runs them in float. A graph-scope recipe traces the model with ``torch.fx`` and gives every
tensor one activation quantizer at its producer (graph inputs, constants and the output of
every compute op); data-movement ops (reshape, chunk, pixel shuffle, slicing) keep their
input's grid. Exported, each compute op then sits between DequantizeLinear and QuantizeLinear
and ONNX Runtime fuses it into an integer kernel (QLinearConv, QLinearAdd, QLinearMul,
QLinearSigmoid, QLinearConcat).
"""

from __future__ import annotations

import copy
import operator
from typing import Any, Optional, Sequence

import torch
import torch.fx as fx
import torch.nn as nn
from torch.fx.passes.shape_prop import ShapeProp, _extract_tensor_metadata

from vidquant.errors import VidquantError, first_line
from vidquant.quant.modules import QUANT_LAYER_FOR, LayerSpecs, QuantLayer
from vidquant.quant.quantizer import FakeQuantizer
from vidquant.quant.spec import QuantSpec

GRAPH_QUANT_PREFIX = "graph_quant"
_PRESERVED_KEY = "_user_preserved_attributes"  # torch.fx re-applies these attributes after deepcopy

# Ops whose output values are a subset / rearrangement of their input's: they keep its grid.
_MOVEMENT_FUNCTIONS = {
    operator.getitem, torch.flatten, torch.reshape, torch.chunk, torch.split, torch.squeeze, torch.unsqueeze,
    torch.permute, torch.transpose, nn.functional.pixel_shuffle, nn.functional.pixel_unshuffle,
}
_MOVEMENT_METHODS = {
    "chunk", "split", "reshape", "view", "flatten", "permute", "transpose", "squeeze", "unsqueeze",
    "contiguous", "size", "dim", "expand", "repeat",
}
_MOVEMENT_MODULES = (nn.PixelShuffle, nn.PixelUnshuffle, nn.Flatten, nn.Identity, nn.Dropout)


def quantize_graph(
    model: nn.Module,
    weight: Optional[QuantSpec],
    activation: QuantSpec,
    example_inputs: Optional[Sequence[torch.Tensor]] = None,
    layer_types: Optional[Sequence[str]] = None,
) -> nn.Module:
    """A traced copy of ``model``: weighted layers get ``weight`` quantizers, every float tensor
    an ``activation`` quantizer at its producer. The float ``model`` is not changed.

    ``example_inputs`` (default: random tensors of ``model.example_input_shapes``) tell float
    tensors from shapes and integers in the traced graph; ``layer_types`` (torch class names,
    default all) limit which weighted layers get weight quantizers. A lone weighted layer
    (a bare ``nn.Conv2d``) becomes its quantized layer with input and output quantizers: the
    same tensors quantized, without a trace.
    """
    lone_layer = type(model) in QUANT_LAYER_FOR and getattr(model, "weight", None) is not None
    if lone_layer and (layer_types is None or type(model).__name__ in layer_types):
        return QUANT_LAYER_FOR[type(model)].from_float(model, LayerSpecs(weight=weight, input=activation, output=activation))
    try:
        graph_module = fx.symbolic_trace(copy.deepcopy(model))
    except Exception as error:  # fx raises many types for untraceable control flow
        raise VidquantError(f"graph-scope quantization needs a torch.fx-traceable model: {first_line(error)}") from None
    ShapeProp(graph_module).propagate(*_example_inputs(model, example_inputs))
    _Rewriter(graph_module, weight, activation, layer_types).run()
    graph_module.graph.lint()
    graph_module.recompile()
    for key in ("example_input_shapes", "vidquant_model"):
        if hasattr(model, key):
            keep_attribute(graph_module, key, getattr(model, key))
    return graph_module


def keep_attribute(module: nn.Module, name: str, value: Any) -> None:
    """Set a plain attribute that also survives ``copy.deepcopy`` of a GraphModule (which
    rebuilds the module from its graph and drops attributes it does not know)."""
    object.__setattr__(module, name, value)
    if isinstance(module, fx.GraphModule):
        module.meta.setdefault(_PRESERVED_KEY, {})[name] = value


def _example_inputs(model: nn.Module, given: Optional[Sequence[torch.Tensor]]) -> list[torch.Tensor]:
    if given is not None:
        return list(given)
    shapes = getattr(model, "example_input_shapes", None)
    if not shapes:
        raise VidquantError("graph-scope quantization needs example inputs (the model has no example_input_shapes)")
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(shape, generator=generator) for shape in shapes]


def has_graph_quantizers(module: nn.Module) -> bool:
    """True for a GraphModule that graph-scope quantization made (every tensor in it quantized)."""
    return isinstance(module, fx.GraphModule) and any(
        name.startswith(GRAPH_QUANT_PREFIX) for name, _ in module.named_children())


def is_movement(graph_module: fx.GraphModule, node: fx.Node) -> bool:
    """True for ops whose output values are their input's, rearranged (they keep its grid)."""
    if node.op == "call_function":
        return node.target in _MOVEMENT_FUNCTIONS
    if node.op == "call_method":
        return node.target in _MOVEMENT_METHODS
    if node.op == "call_module":
        return isinstance(graph_module.get_submodule(str(node.target)), _MOVEMENT_MODULES)
    return node.op == "get_attr"


class _Rewriter:
    """Walks the traced graph once, inserting quantizer calls and swapping weighted layers."""

    def __init__(
        self,
        graph_module: fx.GraphModule,
        weight: Optional[QuantSpec],
        activation: QuantSpec,
        layer_types: Optional[Sequence[str]],
    ) -> None:
        self.gm = graph_module
        self.layer_types = layer_types
        self.weight = weight
        self.activation = activation
        self.grid_of: dict[fx.Node, str] = {}  # node already on a quantizer's grid -> that quantizer
        self.count = 0

    def run(self) -> None:
        for node in list(self.gm.graph.nodes):
            if node.op == "output":
                continue
            if is_movement(self.gm, node):
                self._follow_movement(node)
            elif not _is_float_tensor(node):
                continue
            elif node.op == "placeholder":
                self._quantize_after(node)
            else:
                self._quantize_compute(node)

    def _follow_movement(self, node: fx.Node) -> None:
        """Moved values stay on their source's grid. When several ops read them, the source's
        quantizer runs again (an exact identity) so the runtime can keep the move in integers."""
        sources = [self.grid_of[arg] for arg in _tensor_args(node) if arg in self.grid_of]
        if not sources:
            return
        self.grid_of[node] = sources[0]
        if _is_float_tensor(node) and len(node.users) > 1:
            self._insert_quantizer(node, sources[0])

    def _quantize_compute(self, node: fx.Node) -> None:
        if node.op == "call_module":
            self._swap_weighted(node)
        for arg in _tensor_args(node):
            if arg not in self.grid_of and _is_float_tensor(arg):
                self._quantize_after(arg)
        if node.op == "call_module":
            self._link_input_quantizer(node)
        if node.target in _ARITHMETIC:
            self._constants_to_tensors(node)
        self._quantize_after(node)
        if node.op == "call_module":
            self._link_output_quantizer(node)

    def _swap_weighted(self, node: fx.Node) -> None:
        module = self.gm.get_submodule(node.target)
        layer_class = QUANT_LAYER_FOR.get(type(module))
        if layer_class is None or self.weight is None or getattr(module, "weight", None) is None:
            return
        if self.layer_types is not None and type(module).__name__ not in self.layer_types:
            return
        layer = layer_class.from_float(module, LayerSpecs(weight=self.weight))
        layer.weight_quant.layer_name = f"{node.target}.weight_quant"
        self.gm.set_submodule(node.target, layer)

    def _link_input_quantizer(self, node: fx.Node) -> None:
        """Tell a weighted layer which quantizer made its input, so its bias can be put on the
        int32 grid s_input * s_weight as integer kernels do. A plain attribute, not a submodule:
        the state dict keeps one copy and deepcopy maps it to the copied quantizer."""
        layer = self.gm.get_submodule(node.target)
        source = node.args[0] if node.args else None
        if isinstance(layer, QuantLayer) and isinstance(source, fx.Node) and source in self.grid_of:
            object.__setattr__(layer, "input_source", self.gm.get_submodule(self.grid_of[source]))

    def _link_output_quantizer(self, node: fx.Node) -> None:
        """Tell a weighted layer which quantizer reads its output (``output_sink``), so export can
        requantize inside a rewritten layer (a transposed convolution's sub-pixel form)."""
        layer = self.gm.get_submodule(node.target)
        if isinstance(layer, QuantLayer):
            object.__setattr__(layer, "output_sink", self.gm.get_submodule(self.grid_of[node]))

    def _quantize_after(self, node: fx.Node) -> fx.Node:
        """A new quantizer after ``node``."""
        name = f"{GRAPH_QUANT_PREFIX}_{self.count}"
        self.count += 1
        quantizer = FakeQuantizer(self.activation, role="activation")
        quantizer.layer_name = f"{name} (after {node.name})"
        self.gm.add_submodule(name, quantizer)
        return self._insert_quantizer(node, name)

    def _insert_quantizer(self, node: fx.Node, name: str) -> fx.Node:
        """Call quantizer ``name`` on ``node``; every other user of ``node`` reads its output."""
        with self.gm.graph.inserting_after(node):
            quantized = self.gm.graph.call_module(name, (node,))
        quantized.meta = dict(node.meta)
        node.replace_all_uses_with(quantized, delete_user_cb=lambda user: user is not quantized)
        self.grid_of[node] = self.grid_of[quantized] = name
        return quantized

    def _constants_to_tensors(self, node: fx.Node) -> None:
        """Python numbers in an arithmetic op become quantized constant tensors (``4.0 * x``)."""
        args = list(node.args)
        for index, value in enumerate(args):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                name = f"{GRAPH_QUANT_PREFIX}_const_{self.count}"
                self.gm.register_buffer(name, torch.tensor([float(value)]))
                with self.gm.graph.inserting_before(node):
                    constant = self.gm.graph.get_attr(name)
                constant.meta["tensor_meta"] = _extract_tensor_metadata(torch.tensor([float(value)]))
                args[index] = self._quantize_after(constant)
        node.args = tuple(args)


_ARITHMETIC = {operator.add, operator.mul, operator.sub, operator.truediv, torch.add, torch.mul, "add", "mul", "sub", "div"}


def _is_float_tensor(node: fx.Node) -> bool:
    meta = node.meta.get("tensor_meta")
    return meta is not None and hasattr(meta, "dtype") and meta.dtype.is_floating_point


def _tensor_args(node: fx.Node) -> list[fx.Node]:
    """The distinct tensor-valued node arguments of ``node`` (also inside lists, as for cat)."""
    found: list[fx.Node] = []

    def visit(value: Any) -> None:
        if isinstance(value, fx.Node) and value not in found:
            found.append(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)

    visit(node.args)
    visit(dict(node.kwargs))
    return found
