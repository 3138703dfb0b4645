"""The ONNX form of each quantizer: QuantizeLinear / DequantizeLinear nodes emitted while tracing.

``install_qdq_hooks`` gives every quantizer (and every layer whose bias can become int32)
a hook that replaces its fake quantization by an autograd Function with an ONNX
``symbolic``: activations become [Clip ->] QuantizeLinear -> DequantizeLinear, weights
become integer initializers -> DequantizeLinear (blocked for per-block steps), dynamic
quantizers DynamicQuantizeLinear -> DequantizeLinear (per tensor) or, for per-row ranges that
no ONNX op measures, the plain ops of ``dynamic_fake_quantize`` (ReduceMin / ReduceMax, Div,
Round, Clip: the same float arithmetic PyTorch runs). The scale is the (LSQ) step; LSQ+
offsets become integer zero points.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

import torch
import torch.nn as nn

from vidquant.errors import VidquantError
from vidquant.quant.api import quant_layers, quantizers
from vidquant.quant.granularity import PerBlock, PerChannel, PerRow
from vidquant.quant.modules import QuantConvTranspose2d, QuantLayer
from vidquant.quant.primitives import dynamic_fake_quantize
from vidquant.quant.quantizer import FakeQuantizer
from vidquant.quant.subpixel import subpixel_conv_transpose, subpixel_unsupported, subpixel_weight

ACTIVATION_TYPES = ("uint8", "int8")
_CONTAINERS = {  # onnx integer type (and its range) holding activation codes
    "uint8": (torch.uint8, 0, 255),
    "int8": (torch.int8, -128, 127),
    "int16": (torch.int16, -32768, 32767),
}


class _QuantizeDequantize(torch.autograd.Function):
    """[Clip(low, high) ->] QuantizeLinear -> DequantizeLinear with constant scale / zero point."""

    @staticmethod
    def forward(ctx, x, scale, zero_point, low, high, axis, qmin, qmax):  # type: ignore[override]
        shape = _broadcast_shape(x.dim(), axis, scale.numel())
        s, z = scale.reshape(shape), zero_point.to(torch.float32).reshape(shape)
        if low is not None:
            x = torch.clamp(x, low, high)
        q = torch.clamp(torch.round(x / s) + z, qmin, qmax)
        return (q - z) * s

    @staticmethod
    def symbolic(g, x, scale, zero_point, low, high, axis, qmin, qmax):
        if low is not None:
            x = g.op("Clip", x, _const(g, torch.tensor(low)), _const(g, torch.tensor(high)))
        kwargs = {} if axis is None else {"axis_i": axis}
        q = g.op("QuantizeLinear", x, scale, zero_point, **kwargs)
        return g.op("DequantizeLinear", q, scale, zero_point, **kwargs)


class _Dequantize(torch.autograd.Function):
    """DequantizeLinear of constant integer codes (weights, int32 biases), per axis or per block."""

    @staticmethod
    def forward(ctx, codes, scale, zero_point, axis, block_size):  # type: ignore[override]
        if block_size:
            repeat = lambda t: t.repeat_interleave(block_size, dim=1)[:, : codes.shape[1]]  # noqa: E731
            return (codes.to(torch.float32) - repeat(zero_point.to(torch.float32))) * repeat(scale)
        shape = _broadcast_shape(codes.dim(), axis, scale.numel())
        return (codes.to(torch.float32) - zero_point.to(torch.float32).reshape(shape)) * scale.reshape(shape)

    @staticmethod
    def symbolic(g, codes, scale, zero_point, axis, block_size):
        kwargs = {} if axis is None else {"axis_i": axis}
        if block_size:
            kwargs["block_size_i"] = block_size
        return g.op("DequantizeLinear", codes, scale, zero_point, **kwargs)


class _DynamicQuantizeDequantize(torch.autograd.Function):
    """DynamicQuantizeLinear (uint8, range measured per call) -> DequantizeLinear."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[override]
        low = torch.clamp(x.min(), max=0.0)
        high = torch.clamp(x.max(), min=0.0)
        scale = torch.clamp((high - low) / 255.0, min=torch.finfo(torch.float32).tiny)
        zero = torch.clamp(torch.round(-low / scale), 0, 255)
        return (torch.clamp(torch.round(x / scale) + zero, 0, 255) - zero) * scale

    @staticmethod
    def symbolic(g, x):
        q, scale, zero = g.op("DynamicQuantizeLinear", x, outputs=3)
        return g.op("DequantizeLinear", q, scale, zero)


@dataclass(frozen=True)
class ExportPlan:
    """What the hooks will emit, for notes and tests."""

    activation_type: str
    int4_weights: list[str]
    int32_biases: list[str]
    subpixel_layers: list[str] = field(default_factory=list)  # transposed convolutions as Conv + DepthToSpace


@contextlib.contextmanager
def install_qdq_hooks(model: nn.Module, activation_type: str = "uint8") -> Iterator[ExportPlan]:
    """While inside, tracing ``model`` emits ONNX Q/DQ nodes for every quantizer."""
    if activation_type not in ACTIVATION_TYPES:
        raise VidquantError(f"activation type must be one of {', '.join(ACTIVATION_TYPES)}, got {activation_type!r}")
    plan = ExportPlan(activation_type, [], [])
    installed: list[nn.Module] = []
    try:
        for name, layer in quant_layers(model):
            if layer.weight_quant is not None:
                layer.weight_quant.export_fn = _weight_hook(layer.weight_quant, layer.weight.detach(), plan, name)
                installed.append(layer.weight_quant)
            subpixel = _subpixel_hook(layer)
            if subpixel is not None:
                layer.export_forward = subpixel  # type: ignore[attr-defined]
                plan.subpixel_layers.append(name)
                installed.append(layer)  # type: ignore[arg-type]
            bias_hook = _bias_hook(layer)
            if bias_hook is not None:
                layer.bias_fn = bias_hook
                plan.int32_biases.append(name)
                installed.append(layer)  # type: ignore[arg-type]
        for _, quantizer in quantizers(model):
            if quantizer.export_fn is None and quantizer.role == "activation":
                quantizer.export_fn = _activation_hook(quantizer, activation_type)
                installed.append(quantizer)
        yield plan
    finally:
        for module in installed:
            if isinstance(module, FakeQuantizer):
                module.export_fn = None
            else:
                module.bias_fn = None  # type: ignore[union-attr]
                module.__dict__.pop("export_forward", None)


# ---- hooks -----------------------------------------------------------------------------
def _activation_hook(quantizer: FakeQuantizer, activation_type: str) -> Callable[[torch.Tensor], torch.Tensor]:
    spec = quantizer.spec
    if spec.is_float:
        return lambda x: x.to(torch.float16).to(x.dtype)
    if spec.dynamic and isinstance(spec.granularity, PerRow):
        dims = quantizer.row_dims
        return lambda x: dynamic_fake_quantize(x, dims, spec.qmin, spec.qmax, spec.symmetric, straight_through=False)
    if spec.dynamic:
        if spec.bits != 8 or spec.signed or spec.symmetric or quantizer.spec.granularity.kind != "per_tensor":
            raise VidquantError(f"{quantizer.layer_name}: dynamic quantization exports as uint8 per tensor or per row only")
        return _DynamicQuantizeDequantize.apply
    _require_initialized(quantizer)
    scale = quantizer.scale.detach().clone()
    zero = quantizer.zero_points().clone()
    dtype, cmin, cmax = _CONTAINERS[activation_type if spec.bits <= 8 else "int16"]
    shift = cmin - spec.qmin
    narrow = spec.qmax - spec.qmin < cmax - cmin
    axis = 1 if isinstance(spec.granularity, PerChannel) else None
    if axis is None:
        scale, zero = scale.reshape(()), zero.reshape(())
    low = float(((spec.qmin - zero) * scale).min()) if narrow and axis is None else None
    high = float(((spec.qmax - zero) * scale).max()) if narrow and axis is None else None
    if narrow and axis is not None:
        raise VidquantError(f"{quantizer.layer_name}: per-channel activations below 8 bits cannot be exported")
    zero_code = (zero + shift).to(dtype)
    qmin, qmax = spec.qmin + shift, spec.qmax + shift

    def hook(x: torch.Tensor) -> torch.Tensor:
        return _QuantizeDequantize.apply(x, scale, zero_code, low, high, axis, qmin, qmax)

    return hook


def _weight_hook(
    quantizer: FakeQuantizer, weight: torch.Tensor, plan: ExportPlan, layer: str
) -> Callable[[torch.Tensor], torch.Tensor]:
    spec = quantizer.spec
    if spec.is_float:
        stored = weight.to(torch.float16)
        return lambda _: stored.to(torch.float32)
    if not quantizer.has_integer_codes:
        raise VidquantError(f"{layer}: weights quantized with {spec.label()} have no integer form to export")
    _require_initialized(quantizer)
    codes = quantizer.int_codes(weight)
    scale = quantizer.scale.detach().clone()
    zero = quantizer.zero_points().clone()
    int_type = torch.int8 if spec.bits <= 8 else torch.int16
    axis = quantizer._axis(weight.dim())
    if isinstance(spec.granularity, PerBlock):
        if spec.bits <= 4:
            plan.int4_weights.append(layer)
        return _blocked_weight_hook(codes, scale, zero, axis, spec.granularity.block_size, int_type)
    if spec.granularity.kind == "per_tensor":
        scale, zero, axis = scale.reshape(()), zero.reshape(()), None
    codes, zero = codes.to(int_type), zero.to(int_type)
    return lambda _: _Dequantize.apply(codes, scale, zero, axis, 0)


def _blocked_weight_hook(codes, scale, zero, axis, block, int_type) -> Callable[[torch.Tensor], torch.Tensor]:
    """Blocks run along the flattened non-output axes: DQ a 2-D [out, K] matrix, then reshape back."""
    moved = codes.movedim(axis, 0)
    matrix = moved.reshape(moved.shape[0], -1).to(int_type)
    blocks = math.ceil(matrix.shape[1] / block)
    scale2d = scale.reshape(matrix.shape[0], blocks)
    zero2d = zero.reshape(matrix.shape[0], blocks).to(int_type)
    moved_shape = tuple(moved.shape)

    def hook(_: torch.Tensor) -> torch.Tensor:
        weight = _Dequantize.apply(matrix, scale2d, zero2d, 1, block).reshape(moved_shape)
        return weight.movedim(0, axis) if axis else weight

    return hook


def _bias_hook(layer: QuantLayer) -> Optional[Callable[[], torch.Tensor]]:
    """int32 bias with scale s_input * s_weight, the form integer kernels (QLinearConv) require."""
    step = layer.integer_bias_step()
    if step is None:
        return None
    scale = step.detach().clone()
    codes = layer.integer_bias_codes(step).to(torch.int32)
    zero = torch.zeros(scale.numel(), dtype=torch.int32)
    return lambda: _Dequantize.apply(codes, scale, zero, 0, 0)


def integer_transpose_conv(layer: QuantLayer) -> Optional[FakeQuantizer]:
    """The output quantizer of a transposed convolution that exports as an integer kernel in
    sub-pixel form (integer bias grid, i.e. static 8-bit input and weights, and a static 8-bit
    per-tensor quantizer reading its output), else None."""
    if not isinstance(layer, QuantConvTranspose2d) or subpixel_unsupported(layer) is not None:
        return None
    output = layer.output_quant or layer.__dict__.get("output_sink")
    if output is None or output.spec.is_float or output.spec.dynamic or output.spec.bits > 8:
        return None
    if output.spec.granularity.kind != "per_tensor" or not output.is_initialized:
        return None
    weights = layer.weight_quant
    if weights is None or not weights.has_integer_codes or weights.spec.granularity.kind == "per_block":
        return None
    source = layer.input_quant or layer.__dict__.get("input_source")
    if source is None or source.spec.dynamic or source.spec.bits > 8 or source.spec.granularity.kind != "per_tensor":
        return None
    return output


def _subpixel_hook(layer: QuantLayer) -> Optional[Callable[..., torch.Tensor]]:
    """A transposed convolution as DequantizeLinear -> Conv -> QuantizeLinear -> DepthToSpace ->
    Slice: one QLinearConv on ONNX Runtime, the same int32 accumulators (see quant.subpixel)."""
    output = integer_transpose_conv(layer)
    if output is None:
        return None
    stride = layer.stride[0]  # type: ignore[attr-defined]
    weights = layer.weight_quant
    codes = subpixel_weight(weights.int_codes(layer.weight.detach()).float(), stride).to(torch.int8)  # type: ignore[attr-defined]
    repeat = stride * stride
    scale = weights.scale.detach().reshape(-1).clone()
    zero = weights.zero_points().reshape(-1).to(torch.int8)
    if scale.numel() > 1:
        scale, zero = scale.repeat_interleave(repeat), zero.repeat_interleave(repeat)
        axis: Optional[int] = 0
    else:
        scale, zero, axis = scale.reshape(()), zero.reshape(()), None
    bias_step = layer.integer_bias_step()
    bias_codes = None if bias_step is None else layer.integer_bias_codes(bias_step).repeat_interleave(repeat).to(torch.int32)
    bias_scale = None if bias_step is None else bias_step.detach().repeat_interleave(repeat).clone()
    float_bias = None if layer.bias is None else layer.bias.detach().repeat_interleave(repeat)  # type: ignore[attr-defined]

    def forward(x: torch.Tensor, output_size: Optional[list[int]] = None) -> torch.Tensor:
        weight = _Dequantize.apply(codes, scale, zero, axis, 0)
        bias = float_bias if bias_codes is None else _Dequantize.apply(
            bias_codes, bias_scale, torch.zeros(bias_codes.numel(), dtype=torch.int32), 0, 0)
        return subpixel_conv_transpose(layer, layer.quantize_input(x), weight, bias, output_size, requantize=output)  # type: ignore[arg-type]

    return forward


# ---- helpers ---------------------------------------------------------------------------
def _require_initialized(quantizer: FakeQuantizer) -> None:
    if not quantizer.is_initialized:
        raise VidquantError(f"{quantizer.layer_name}: quantizer has no step size yet (calibrate before export)")


def _broadcast_shape(ndim: int, axis: Optional[int], count: int) -> list[int]:
    shape = [1] * ndim
    if axis is not None and count > 1:
        shape[axis] = count
    return shape


def _const(g, value: torch.Tensor):
    return g.op("Constant", value_t=value.to(torch.float32))
