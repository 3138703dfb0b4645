"""``export_onnx``: a quantized model as an ONNX graph whose integer numerics match PyTorch."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import helper, numpy_helper

from vidquant.errors import VidquantError, first_line
from vidquant.export.qdq import install_qdq_hooks
from vidquant.quant.api import is_quantized, quantizers, snap_offsets
from vidquant.quant.runner import (
    Forward,
    all_finite,
    bypass_quantizers,
    default_forward,
    first_non_finite,
    non_finite_error,
    resolve_forward,
)

DYNAMIC_PATHS = ("ort", "qdq")  # dynamic-int8: ONNX Runtime's quantize_dynamic | vidquant's Q/DQ hooks
OPSET = 21  # blocked and int4 DequantizeLinear
_TRACE_OPSET = 20  # the highest the TorchScript exporter writes; raised to OPSET afterwards


@dataclass
class ExportResult:
    path: Path
    opset: int
    activation_type: str
    quantized: bool
    notes: list[str] = field(default_factory=list)

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


def export_onnx(
    model: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    path: str | Path,
    *,
    activation_type: str = "uint8",
    input_names: Optional[list[str]] = None,
    output_names: Optional[list[str]] = None,
    dynamic_path: str = "ort",
    forward: Optional[Forward] = None,
    check_finite: bool = True,
    compact: bool = False,
) -> ExportResult:
    """Write ``model`` as ONNX at ``path``; the model itself is not changed.

    Quantizers become Q/DQ pairs (``activation_type`` picks uint8 or int8 activation codes;
    signed codes are shifted into uint8 losslessly), integer weights become int8 (int4 for
    4-bit blocks) initializers feeding DequantizeLinear, biases of integer layers int32.
    ``dynamic-int8`` models go through ONNX Runtime's dynamic quantization instead
    (``dynamic_path="ort"``: fast ConvInteger kernels, but per-tensor weights for convolutions),
    or with ``dynamic_path="qdq"`` through the same Q/DQ hooks (per-channel int8 weights,
    DynamicQuantizeLinear inputs: the numerics PyTorch computes).

    ``forward(model, example_inputs)`` is the computation to export, for models without
    ``forward`` (e.g. ``lambda m, x: m.g_s(x[0])``). With ``check_finite``, a non-finite output
    on ``example_inputs`` raises naming the first layer that produced it.

    ``compact=True`` writes the same graph smaller (``compact_graph``: short value names, no node
    names, identical constants stored once); ONNX Runtime computes the same outputs bit for bit.
    """
    if dynamic_path not in DYNAMIC_PATHS:
        raise VidquantError(f"dynamic_path must be one of {', '.join(DYNAMIC_PATHS)}, got {dynamic_path!r}")
    path = Path(path)
    inputs = tuple(example_inputs)
    model = copy.deepcopy(model).eval()
    run = resolve_forward(model, forward, "export_onnx")
    check_inputs_fit(model, inputs, run, check_finite)
    if forward is not None:
        model = _Runner(model, forward)
    result = ExportResult(path, OPSET, activation_type, quantized=is_quantized(model))
    if not result.quantized:
        result.notes.append("model is not quantized: exported as a plain float graph")
    if _is_dynamic_int8(model) and dynamic_path == "ort":
        return _export_dynamic_int8(model, inputs, result, input_names, output_names)
    shift = snap_offsets(model)
    if shift > 0:
        result.notes.append(
            f"LSQ+ offsets rounded to integer zero points (largest shift {shift:.2f} steps); "
            "vidquant.quant.snap_offsets(model) gives PyTorch the same numerics"
        )
    with install_qdq_hooks(model, activation_type) as plan:
        _trace(model, inputs, path, input_names, output_names)
    graph = onnx.load(str(path))
    _raise_opset(graph)
    converted = _int4_blocked_weights(graph)
    halved = _float16_weights(graph) if _has_float16_weights(model) else 0
    if compact:
        compact_graph(graph)
    onnx.checker.check_model(graph, full_check=True)
    onnx.save(graph, str(path))
    if plan.int32_biases:
        result.notes.append(f"{len(plan.int32_biases)} bias(es) stored as int32 (scale = input step x weight step)")
    if converted:
        result.notes.append(f"{converted} weight tensor(s) stored as int4 blocks")
    if halved:
        result.notes.append(f"{halved} weight tensor(s) stored as float16 (Cast to float32 in the graph)")
    return result


def check_inputs_fit(model: nn.Module, inputs: tuple, forward: Forward = default_forward, check_finite: bool = False) -> None:
    """Run once before exporting: fails early on a bad shape and initializes lazy quantizers;
    with ``check_finite`` also on a NaN / Inf output (naming the first layer with one)."""
    try:
        with torch.no_grad():
            outputs = forward(model, inputs)
    except Exception as error:  # any failure here means the inputs do not fit
        shapes = ", ".join("x".join(map(str, x.shape)) for x in inputs if isinstance(x, torch.Tensor))
        raise VidquantError(f"input shape {shapes} does not fit the model: {first_line(error)}") from None
    if check_finite and not all_finite(outputs):
        raise non_finite_error("export_onnx", first_non_finite(model, forward, inputs))


class _Runner(nn.Module):
    """``forward(model, inputs)`` as a module's forward, so the tracer exports that computation."""

    def __init__(self, model: nn.Module, forward: Forward) -> None:
        super().__init__()
        self.model = model
        self.run = forward

    def forward(self, *inputs: torch.Tensor):
        return self.run(self.model, list(inputs))


def _trace(model, inputs, path, input_names, output_names) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Without gradients: the tracer runs the model once, and with autograd on (trainable LSQ
    # steps) every intermediate tensor would stay alive until the trace ends (GBs at 1080p).
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                model, inputs, str(path), dynamo=False, opset_version=_TRACE_OPSET, do_constant_folding=True,
                input_names=input_names, output_names=output_names,
            )
        except torch.onnx.errors.UnsupportedOperatorError as error:
            raise VidquantError(f"ONNX export failed: {first_line(error)}") from None


def _raise_opset(graph: onnx.ModelProto) -> None:
    for entry in graph.opset_import:
        if entry.domain in ("", "ai.onnx"):
            entry.version = OPSET
    graph.ir_version = max(graph.ir_version, 10)


def _int4_blocked_weights(graph: onnx.ModelProto) -> int:
    """Blocked DequantizeLinear codes within [-8, 7] are stored as INT4 (two per byte)."""
    constants = {node.output[0]: node for node in graph.graph.node if node.op_type == "Constant"}
    initializers = {tensor.name: tensor for tensor in graph.graph.initializer}
    converted = 0
    for node in graph.graph.node:
        if node.op_type != "DequantizeLinear" or not any(a.name == "block_size" for a in node.attribute):
            continue
        arrays = [_constant_array(name, constants, initializers) for name in (node.input[0], node.input[2])]
        if any(a is None for a in arrays) or arrays[0].min() < -8 or arrays[0].max() > 7:
            continue
        for name, array in zip((node.input[0], node.input[2]), arrays):
            tensor = helper.make_tensor(name, onnx.TensorProto.INT4, array.shape, _pack_int4(array), raw=True)
            _replace_constant(name, tensor, constants, initializers)
        converted += 1
    return converted


_WEIGHT_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def _has_float16_weights(model: nn.Module) -> bool:
    return any(q.role == "weight" and q.spec.float_dtype == "float16" for _, q in quantizers(model))


def _float16_weights(graph: onnx.ModelProto) -> int:
    """Weights of float16-quantized layers are traced as float32 constants (the Cast folds away);
    store those whose values are all float16 numbers as float16, cast back in the graph."""
    constants = {node.output[0]: node for node in graph.graph.node if node.op_type == "Constant"}
    initializers = {tensor.name: tensor for tensor in graph.graph.initializer}
    casts, done = [], set()
    for node in graph.graph.node:
        if node.op_type not in _WEIGHT_OPS or len(node.input) < 2 or node.input[1] in done:
            continue
        name = node.input[1]
        array = _constant_array(name, constants, initializers)
        if array is None or array.dtype != np.float32 or not np.array_equal(array.astype(np.float16).astype(np.float32), array):
            continue
        half = numpy_helper.from_array(array.astype(np.float16), f"{name}_float16")
        graph.graph.initializer.append(half)
        if name in initializers:
            graph.graph.initializer.remove(initializers[name])
        else:
            graph.graph.node.remove(constants[name])
        casts.append(helper.make_node("Cast", [half.name], [name], to=onnx.TensorProto.FLOAT))
        done.add(name)
    for cast in reversed(casts):
        graph.graph.node.insert(0, cast)
    return len(casts)


def compact_graph(graph: onnx.ModelProto) -> None:
    """In place: the same computation in fewer bytes. The TorchScript exporter names every value
    and node after its module scope (``/features/features.3/block/...``, ~70 characters, written
    again in each consumer's inputs) and emits one Constant node per scalar (about a thousand per
    UVQ trunk under per-row dynamic quantization, 18 distinct values): in a 4 MB int8 graph this
    is ~0.7 MB. Identical constants are kept once, values get short names (graph inputs and
    outputs keep theirs), node names are dropped."""
    body = graph.graph
    kept: dict[tuple, str] = {}
    alias: dict[str, str] = {}
    nodes = []
    for node in body.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            tensor = onnx.TensorProto()
            tensor.CopyFrom(node.attribute[0].t)
            tensor.name = ""
            key = (tensor.data_type, tuple(tensor.dims), tensor.SerializeToString(deterministic=True))
            if key in kept:
                alias[node.output[0]] = kept[key]
                continue
            kept[key] = node.output[0]
        nodes.append(node)
    fixed = {value.name for value in (*body.input, *body.output)}
    names: dict[str, str] = {}

    def short(name: str) -> str:
        name = alias.get(name, name)
        if not name or name in fixed:
            return name
        return names.setdefault(name, f"v{len(names):x}")

    for node in nodes:
        node.input[:] = [short(name) for name in node.input]
        node.output[:] = [short(name) for name in node.output]
        node.name = ""
        for attribute in node.attribute:
            if attribute.name == "value":
                attribute.t.name = ""
    for tensor in body.initializer:
        tensor.name = short(tensor.name)
    del body.node[:]
    body.node.extend(nodes)
    del body.value_info[:]


def _pack_int4(array: np.ndarray) -> bytes:
    """ONNX INT4 raw data: two values a byte, the first in the low nibble (a value list would be
    stored as one varint per byte, about 1.5x larger)."""
    flat = array.astype(np.int8).reshape(-1)
    if flat.size % 2:
        flat = np.append(flat, np.int8(0))
    low, high = flat[0::2].astype(np.uint8) & 0x0F, flat[1::2].astype(np.uint8) & 0x0F
    return (low | (high << 4)).astype(np.uint8).tobytes()


def _constant_array(name, constants, initializers):
    if name in initializers:
        return numpy_helper.to_array(initializers[name])
    if name in constants:
        return numpy_helper.to_array(constants[name].attribute[0].t)
    return None


def _replace_constant(name, tensor, constants, initializers) -> None:
    if name in initializers:
        initializers[name].CopyFrom(tensor)
    else:
        constants[name].attribute[0].t.CopyFrom(tensor)


# ---- dynamic int8: ONNX Runtime's own path ---------------------------------------------
def _is_dynamic_int8(model: nn.Module) -> bool:
    found = [q for _, q in quantizers(model)]
    return bool(found) and any(q.spec.dynamic for q in found)


def _export_dynamic_int8(model, inputs, result: ExportResult, input_names, output_names) -> ExportResult:
    """Float graph of the unquantized weights, then onnxruntime.quantization.quantize_dynamic
    (per-channel int8 weights, uint8 activations measured at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    float_path = result.path.with_suffix(".float.onnx")
    with bypass_quantizers(model):
        _trace(model, inputs, float_path, input_names, output_names)
    quantize_dynamic(str(float_path), str(result.path), per_channel=True, weight_type=QuantType.QInt8)
    float_path.unlink()
    graph = onnx.load(str(result.path))
    onnx.checker.check_model(graph)
    result.opset = next(e.version for e in graph.opset_import if e.domain in ("", "ai.onnx"))
    result.notes.append("dynamic-int8 exported through onnxruntime.quantization.quantize_dynamic (ConvInteger/MatMulInteger)")
    if any(q.spec.granularity.kind == "per_row" for _, q in quantizers(model)):
        result.notes.append("quantize_dynamic measures one input range per tensor, not per row as this recipe does "
                            "(dynamic_path='qdq' keeps the per-row ranges)")
    return result
