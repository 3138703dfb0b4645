"""``report(model)``: what was quantized, how well, and what it costs (size, MACs, bit-ops)."""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from vidquant.errors import VidquantError

from vidquant.io.text_table import format_table
from vidquant.quant.api import QUANT_STATE_ATTR, quant_layers
from vidquant.quant.checkpoint import WEIGHTS_FROM_FILE_ATTR, storage_plan
from vidquant.quant.graph_scope import has_graph_quantizers
from vidquant.quant.granularity import describe
from vidquant.quant.modules import QUANT_LAYER_FOR, MatMul, QuantLayer
from vidquant.quant.quantizer import FakeQuantizer
from vidquant.quant.runner import Forward, first_non_finite, non_finite_error, resolve_forward, tensors_in

FLOAT_BITS = 32


@dataclass
class LayerRow:
    name: str
    type: str
    weight_bits: Optional[int]
    act_bits: Optional[int]
    granularity: str
    params: int
    sqnr_db: Optional[float]
    step_min: Optional[float]
    step_median: Optional[float]
    step_max: Optional[float]
    macs: Optional[int] = None
    output_sqnr_db: Optional[float] = None  # this layer's output against the float reference's, end to end


@dataclass
class Report:
    rows: list[LayerRow]
    quantized_tensors: int
    total_tensors: int
    float32_bytes: int
    packed_bytes: int
    recipes: list[str] = field(default_factory=list)
    macs: Optional[int] = None
    bit_ops: Optional[int] = None
    input_shapes: Optional[list[list[int]]] = None
    float_weights: bool = True  # False: weights loaded from a checkpoint, already on their grid (no SQNR)
    output_sqnr_db: Optional[float] = None  # the whole output against the float reference (all its tensors)
    float_matmuls: list[str] = field(default_factory=list)  # matrix products that ran unquantized

    @property
    def coverage(self) -> str:
        share = 100.0 * self.quantized_tensors / max(self.total_tensors, 1)
        return f"{self.quantized_tensors}/{self.total_tensors} ({share:.1f} %)"

    @property
    def size_reduction(self) -> float:
        return 1.0 - self.packed_bytes / max(self.float32_bytes, 1)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["coverage"] = self.coverage
        return data

    def format(self) -> str:
        """Plain-text table, one line per quantized layer, then the totals."""
        header = ("layer", "type", "w/a bits", "gran.", "params", "SQNR dB", "step min/med/max", "out SQNR dB")
        cells = [_row_cells(row, self.float_weights) for row in self.rows]
        if self.output_sqnr_db is None:  # no float reference: no output SQNR column
            header, cells = header[:-1], [row[:-1] for row in cells]
        out = [format_table(header, cells), ""]
        if not self.float_weights:
            out.append("SQNR n/a: the checkpoint holds the quantized weights only, not the float ones they came from")
        out.append(f"recipe(s): {', '.join(self.recipes) or '-'}")
        out.append(f"quantized tensors: {self.coverage}")
        out.append(
            f"size: float32 {_bytes(self.float32_bytes)} -> packed {_bytes(self.packed_bytes)}"
            f" ({100 * self.size_reduction:.1f} % smaller)"
        )
        if self.macs is not None:
            shapes = ", ".join("x".join(map(str, s)) for s in self.input_shapes or [])
            out.append(f"MACs: {self.macs:,} for input {shapes}; bit-operations: {self.bit_ops:,}")
        if self.output_sqnr_db is not None:
            out.append(f"output SQNR against the float reference: {_db(self.output_sqnr_db)} dB")
        if self.float_matmuls:
            out.append(f"matrix products left float ({len(self.float_matmuls)}; write them with vidquant.quant.MatMul "
                       f"to quantize them): {', '.join(self.float_matmuls)}")
        return "\n".join(out)


def report(
    model: nn.Module,
    example_inputs: Any = None,
    *,
    forward: Optional[Forward] = None,
    reference: Optional[nn.Module] = None,
    check_finite: bool = True,
) -> Report:
    """Report on a quantized model (or any quantized submodule of one).

    With ``example_inputs`` (one batch: positional tensors, or whatever ``forward`` takes) also
    MACs, bit-operations and the matrix products that ran unquantized (``@``, ``torch.matmul``,
    ``bmm``, ``F.linear`` outside quantized layers: listed, with one warning). ``forward(model,
    batch)`` runs the model (needed when it has no ``forward``). ``reference``: the float model;
    then each layer's output SQNR (end to end, by forward hooks on the same names) and the whole
    output's. With ``check_finite``, a non-finite quantized output raises naming the first layer.
    """
    macs: dict[str, int] = {}
    float_matmuls: list[str] = []
    layer_sqnr: dict[str, float] = {}
    output_sqnr = None
    if example_inputs is not None:
        run = resolve_forward(model, forward, "report")
        macs, float_matmuls, outputs, captured = _observed_run(model, run, example_inputs, reference is not None)
        if check_finite and not all(bool(torch.isfinite(t).all()) for t in tensors_in(outputs)):
            raise non_finite_error("report", first_non_finite(model, run, example_inputs))
        if reference is not None:
            expected, reference_layers = _reference_run(reference, run, example_inputs, list(captured))
            output_sqnr = _tensors_sqnr(tensors_in(outputs), tensors_in(expected))
            layer_sqnr = {name: _tensors_sqnr(captured[name], reference_layers[name])
                          for name in captured if name in reference_layers}
        if float_matmuls:
            warnings.warn(f"{len(float_matmuls)} matrix product(s) ran unquantized ({', '.join(float_matmuls[:3])}"
                          f"{', ...' if len(float_matmuls) > 3 else ''}): write them with vidquant.quant.MatMul to quantize them",
                          stacklevel=2)
    float_weights = not getattr(model, WEIGHTS_FROM_FILE_ATTR, False)
    rows = [_layer_row(name, layer, macs.get(name), float_weights, layer_sqnr.get(name)) for name, layer in quant_layers(model)]
    plan = storage_plan(model)
    float_entries = [entry for key, entry in plan.items() if not _is_quantizer_state(model, key)]
    total_macs = sum(macs.values()) if macs else None
    return Report(
        rows=rows,
        quantized_tensors=sum(entry.quantized for entry in float_entries),
        total_tensors=len(float_entries),
        float32_bytes=sum(model.state_dict()[key].numel() * 4 for key in plan if not _is_quantizer_state(model, key)),
        packed_bytes=sum(entry.nbytes for entry in plan.values()),
        recipes=recipe_names(model),
        macs=total_macs,
        bit_ops=bit_ops(model, macs) if macs else None,
        input_shapes=[list(x.shape) for x in example_inputs if isinstance(x, torch.Tensor)]
        if isinstance(example_inputs, (list, tuple)) else None,
        float_weights=float_weights,
        output_sqnr_db=output_sqnr,
        float_matmuls=float_matmuls,
    )


def recipe_names(model: nn.Module) -> list[str]:
    """The recipes ``model`` was quantized with: its recorded ``quantize`` calls, or for a
    submodule of a quantized model (the calls are recorded on the root) its layers' recipes."""
    calls = getattr(model, QUANT_STATE_ATTR, None)
    if calls:
        return [call["recipe"]["name"] for call in calls]
    names = [getattr(layer, "recipe_name", None) for _, layer in quant_layers(model)]
    return list(dict.fromkeys(name for name in names if name))


_MATMULS = {torch.matmul, torch.bmm, torch.mm, F.linear, torch.einsum, torch.Tensor.matmul, torch.Tensor.__matmul__,
            torch.Tensor.__rmatmul__, torch.Tensor.bmm, torch.Tensor.mm}


class _MatmulWatch(TorchFunctionMode):
    """Records matrix products called outside quantized layers, by the innermost module running."""

    def __init__(self, stack: list[str], inside_quant: list[int]) -> None:
        super().__init__()
        self.stack, self.inside_quant, self.found = stack, inside_quant, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _MATMULS and not self.inside_quant[0]:
            self.found.append(f"{self.stack[-1] or '<root>'}: {getattr(func, '__name__', str(func))}")
        return func(*args, **(kwargs or {}))


def _observed_run(model: nn.Module, run: Forward, batch: Any, capture: bool):
    """One no-grad run with hooks: MACs per layer, unquantized matrix products, and (``capture``)
    every quantized layer's output."""
    macs: dict[str, int] = {}
    captured: dict[str, list[torch.Tensor]] = {}
    stack: list[str] = []
    inside_quant = [0]
    handles = []

    def enter(name: str, quantized: bool):
        def pre(module: nn.Module, args: tuple) -> None:
            stack.append(name)
            inside_quant[0] += quantized
        return pre

    def leave(name: str, quantized: bool, counted: bool):
        def post(module: nn.Module, args: tuple, output: Any) -> None:
            stack.pop()
            inside_quant[0] -= quantized
            if counted:
                macs[name] = macs.get(name, 0) + _layer_macs(module, args, output)
            if capture and isinstance(module, QuantLayer):
                captured.setdefault(name, []).extend(t.detach() for t in tensors_in(output))
        return post

    for name, module in model.named_modules():
        quantized = isinstance(module, QuantLayer) or has_graph_quantizers(module)  # graph scope: every tensor
        counted = isinstance(module, tuple(QUANT_LAYER_FOR))
        handles.append(module.register_forward_pre_hook(enter(name, quantized)))
        handles.append(module.register_forward_hook(leave(name, quantized, counted)))
    watch = _MatmulWatch(stack, inside_quant)
    try:
        with torch.no_grad(), watch:
            outputs = run(model, batch)
    finally:
        for handle in handles:
            handle.remove()
    return macs, watch.found, outputs, captured


def _reference_run(reference: nn.Module, run: Forward, batch: Any, names: list[str]):
    captured: dict[str, list[torch.Tensor]] = {}
    handles = []
    for name in names:
        try:
            module = reference.get_submodule(name)
        except AttributeError:
            continue

        def hook(module: nn.Module, args: tuple, output: Any, name: str = name) -> None:
            captured.setdefault(name, []).extend(t.detach() for t in tensors_in(output))
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            outputs = run(reference, batch)
    finally:
        for handle in handles:
            handle.remove()
    return outputs, captured


def _tensors_sqnr(got: list[torch.Tensor], expected: list[torch.Tensor]) -> float:
    if len(got) != len(expected) or any(a.shape != b.shape for a, b in zip(got, expected)):
        raise VidquantError("report: the reference's outputs differ in number or shape from the quantized model's")
    signal = sum(float(b.double().pow(2).sum()) for b in expected)
    noise = sum(float((a.double() - b.double()).pow(2).sum()) for a, b in zip(got, expected))
    return sqnr_db(signal, noise)


def _is_quantizer_state(model: nn.Module, key: str) -> bool:
    owner = key.rpartition(".")[0]
    try:
        return isinstance(model.get_submodule(owner), FakeQuantizer)
    except AttributeError:
        return False


def _layer_row(
    name: str, layer: QuantLayer, macs: Optional[int], float_weights: bool = True, output_sqnr: Optional[float] = None
) -> LayerRow:
    wq, aq = layer.weight_quant, layer.input_quant
    weight = getattr(layer, "weight", None)
    steps = wq.scale.detach() if wq is not None and hasattr(wq, "scale") and wq.is_initialized else None
    return LayerRow(
        name=name,
        type=_float_type_name(layer),
        weight_bits=wq.spec.storage_bits if wq is not None else None,
        act_bits=aq.spec.storage_bits if aq is not None else None,
        granularity=describe(wq.spec.granularity) if wq is not None else "-",
        params=sum(p.numel() for n, p in layer.named_parameters(recurse=False)),
        sqnr_db=_sqnr_db(weight.detach(), wq) if float_weights and wq is not None and weight is not None else None,
        step_min=float(steps.min()) if steps is not None else None,
        step_median=float(steps.median()) if steps is not None else None,
        step_max=float(steps.max()) if steps is not None else None,
        macs=macs,
        output_sqnr_db=output_sqnr,
    )


def _float_type_name(layer: nn.Module) -> str:
    for float_type, quant_type in QUANT_LAYER_FOR.items():
        if type(layer) is quant_type:
            return float_type.__name__
    return type(layer).__name__


def sqnr_db(signal: float, noise: float) -> float:
    """Signal-to-quantization-noise ratio in dB from the summed squares of the float values
    (``signal``) and of their errors (``noise``); ``inf`` when there is no error."""
    if noise == 0.0:
        return math.inf
    return 10.0 * math.log10(max(signal, 1e-30) / noise)


def _sqnr_db(weight: torch.Tensor, quantizer: FakeQuantizer) -> float:
    with torch.no_grad():
        error = (quantizer(weight) - weight).pow(2).sum().item()
    return sqnr_db(weight.pow(2).sum().item(), error)


def count_macs(
    model: nn.Module, example_inputs: Sequence[torch.Tensor], shapes_only: bool = False, forward: Optional[Forward] = None
) -> dict[str, int]:
    """Multiply-accumulates per layer (by name) for one forward pass on ``example_inputs``.

    Convention: one MAC per multiply-add of a convolution (transposed too), Linear or ``MatMul``
    (subclasses, i.e. quantized layers, included); biases, activations, softmax, additions and
    pixel shuffles are not counted, as in the FLOP counters papers quote. With ``shapes_only`` a
    copy of the model runs on the meta device (shapes, no arithmetic): instant at full size.
    ``forward(model, example_inputs)`` runs a model without ``forward``.
    """
    run = resolve_forward(model, forward, "count_macs")
    if shapes_only:
        model = copy.deepcopy(model).to("meta")
        example_inputs = [x.to("meta") for x in example_inputs]
    counts: dict[str, int] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, tuple(QUANT_LAYER_FOR)):
            handles.append(module.register_forward_hook(_mac_hook(name, counts)))
    try:
        with torch.no_grad():
            run(model, example_inputs)
    finally:
        for handle in handles:
            handle.remove()
    return counts


def _mac_hook(name: str, counts: dict[str, int]):
    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        counts[name] = counts.get(name, 0) + _layer_macs(module, inputs, output)

    return hook


def _layer_macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    if isinstance(module, nn.ConvTranspose2d):
        kernel = math.prod(module.kernel_size)
        return inputs[0].numel() * (module.out_channels // module.groups) * kernel
    if isinstance(module, nn.modules.conv._ConvNd):
        kernel = math.prod(module.kernel_size)
        return output.numel() * (module.in_channels // module.groups) * kernel
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return output.numel() * inputs[0].shape[-1]  # MatMul


def bit_ops(model: nn.Module, macs: dict[str, int]) -> int:
    """MACs weighted by operand widths (weight bits x activation bits; float counts as 32)."""
    total = 0
    for name, count in macs.items():
        module = model.get_submodule(name)
        w_bits = a_bits = FLOAT_BITS
        if isinstance(module, QuantLayer):
            if module.weight_quant is not None:
                w_bits = module.weight_quant.spec.storage_bits
            if module.input_quant is not None:
                a_bits = module.input_quant.spec.storage_bits
            if isinstance(module, MatMul) and module.input_quant is not None:
                w_bits = a_bits
        total += count * w_bits * a_bits
    return total


def _row_cells(row: LayerRow, float_weights: bool = True) -> tuple[str, ...]:
    bits = f"{row.weight_bits or 'f32'}/{row.act_bits or 'f32'}"
    if row.sqnr_db is None:
        sqnr = "n/a" if row.weight_bits is not None and not float_weights else "-"
    else:
        sqnr = "inf" if math.isinf(row.sqnr_db) else f"{row.sqnr_db:.1f}"
    steps = "-" if row.step_min is None else f"{row.step_min:.3g}/{row.step_median:.3g}/{row.step_max:.3g}"
    out_sqnr = "-" if row.output_sqnr_db is None else _db(row.output_sqnr_db)
    return (row.name, row.type, bits, row.granularity, f"{row.params:,}", sqnr, steps, out_sqnr)


def _db(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.1f}"


def _bytes(count: int) -> str:
    """Decimal units, as the published size reports use (1 MB = 10^6 bytes)."""
    if count >= 10**6:
        return f"{count / 10**6:.2f} MB"
    if count >= 10**3:
        return f"{count / 10**3:.1f} kB"
    return f"{count} B"
