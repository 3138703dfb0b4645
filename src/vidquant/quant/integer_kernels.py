"""Integer-kernel arithmetic in PyTorch for graph-scope models: eval results that match the runtime bit for bit.

Fake quantization computes every op in float32 and rounds its result; an integer runtime adds
exact int32 products and requantizes with precomputed float32 ratios. The two agree except
within float rounding of a half step, where they pick neighbouring codes: a few elements per
million. That is invisible in one image and decisive in a codec, where a code that differs in
an entropy parameter changes the coded symbols of every later frame. ``emulate_integer_kernels``
rewrites a graph-scope model so that, for inference, each (op, output quantizer) pair computes
what ONNX Runtime's CPU kernels compute for the exported graph:

- QuantizeLinear (graph inputs, constants, rows picked from them): round(x / s) (division, not the reciprocal);
- QLinearConv: exact integer accumulation plus int32 bias, times float32 (s_x * s_w) / s_y (also a
  transposed convolution, which export writes as a QLinearConv in sub-pixel form: quant.subpixel);
- QLinearAdd: float32 ratios s_a / s_c, s_b / s_c and a fixed part in fused multiply-adds (x86);
- QLinearMul: the exact integer product times float32 s_a * s_b / s_c, plus the zero point;
- QLinearSigmoid, QLinearConcat (lookup tables), clamps: the float op on dequantized codes, then division.

Every other op keeps its fake-quant arithmetic (listed by ``emulate_integer_kernels``). The result
is for evaluation only: it has no useful gradient.

The int32 sums are exact on every x86 CPU only while no pair of products overflows int16: without
VNNI (AVX2, AVX-512BW), ONNX Runtime's uint8 x int8 kernels add products pairwise with
``vpmaddubsw``, which saturates. Graph-scope recipes therefore keep weight codes within 7 bits
(``vidquant.quant.recipes.INTEGER_WEIGHT_BITS``); ``saturating_convolutions`` lists the layers of a
model where some uint8 input could still overflow a pair.
"""

from __future__ import annotations

import operator
from typing import Callable, Optional

import torch
import torch.fx as fx
import torch.nn as nn

from vidquant.quant.graph_scope import GRAPH_QUANT_PREFIX, has_graph_quantizers, is_movement
from vidquant.quant.modules import QuantLayer
from vidquant.quant.quantizer import FakeQuantizer
from vidquant.quant.subpixel import subpixel_unsupported

_ADD = {operator.add, torch.add, "add"}
_MUL = {operator.mul, torch.mul, "mul"}
# Ops a runtime computes from dequantized codes and quantizes by division: lookup tables (sigmoid,
# concat) and clamps (computed on dequantized values, or dropped when the quantizer saturates there).
_DIVIDING_OPS = {torch.sigmoid, nn.functional.sigmoid, "sigmoid", torch.cat, torch.clamp, torch.clip, "clamp", "clip",
                 torch.relu, nn.functional.relu, "relu"}
_CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
INT16_RANGE = (-(2**15), 2**15 - 1)
UINT8_CODES = (0, 255)  # activation codes as the exported graph stores them (uint8 container)


def emulate_integer_kernels(model: nn.Module) -> list[str]:
    """Rewrite, in place, every graph-scope GraphModule in ``model`` (itself included) and every
    convolution with per-tensor integer input and output quantizers (what graph scope makes of a
    lone layer) to compute integer-kernel arithmetic. Returns the names of the ops left in
    fake-quant arithmetic. Parameters and state-dict keys stay as they are."""
    left: list[str] = []
    for name, module in list(model.named_modules()):
        if has_graph_quantizers(module):
            left += [f"{name}.{op}" if name else op for op in _Emulation(module).run()]
        elif _lone_integer_conv(module):
            # The instance's forward: the layer object, its parameters and state-dict keys stay.
            object.__setattr__(module, "forward", _LoneConv(module))
    return left


def _per_tensor_integer(quantizer: object) -> bool:
    """A static per-tensor quantizer with integer codes (what a uint8 / int8 activation is)."""
    return (
        isinstance(quantizer, FakeQuantizer)
        and quantizer.has_integer_codes
        and quantizer.spec.granularity.kind == "per_tensor"
        and quantizer.is_initialized
        and quantizer.spec.bits <= 8
    )


Params = tuple[torch.Tensor, torch.Tensor]  # (step, zero point)


def _refer(module: nn.Module, **modules: object) -> None:
    """Plain attributes, not submodules: the model's state dict keeps one copy of each, and
    deepcopy maps them to the copied objects."""
    for key, value in modules.items():
        object.__setattr__(module, key, value)


def _params(quantizer: FakeQuantizer) -> Params:
    """(step, zero point) as float32 scalars, the zero point in the uint8 container the exported
    graph stores codes in (a signed quantizer's codes shifted by -qmin, as ``vidquant.export``
    writes them): the runtime's float requantization rounds the container's codes."""
    zero = quantizer.zero_points().reshape(()).float() + _container_shift(quantizer)
    return quantizer.scale.detach().reshape(()).float(), zero


def _container_shift(quantizer: FakeQuantizer) -> int:
    return UINT8_CODES[0] - quantizer.spec.qmin


def _codes(values: torch.Tensor, quantizer: FakeQuantizer) -> torch.Tensor:
    """Integer codes (as float32) of values already on ``quantizer``'s grid."""
    scale, zero = _params(quantizer)
    return torch.round(values.float() / scale) + zero


def _dequantized(rounded: torch.Tensor, quantizer: FakeQuantizer) -> torch.Tensor:
    """Values (q - z) * s of the codes round(.) + z, clamped as the runtime saturates."""
    scale, zero = _params(quantizer)
    shift = _container_shift(quantizer)
    codes = torch.clamp(rounded + zero, quantizer.spec.qmin + shift, quantizer.spec.qmax + shift)
    return (codes - zero) * scale


def _fma(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """float32 a * b + c rounded once, as a fused multiply-add (the product is exact in float64)."""
    return (a.double() * b.double() + c.double()).float()


class DividingQuantizer(nn.Module):
    """``quantizer`` rounding x / s as QuantizeLinear and lookup-table kernels do."""

    def __init__(self, quantizer: FakeQuantizer) -> None:
        super().__init__()
        _refer(self, quantizer=quantizer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale, _ = _params(self.quantizer)
        return _dequantized(torch.round(x.float() / scale), self.quantizer).to(x.dtype)


class IntegerConv(nn.Module):
    """Convolution + output quantizer as QLinearConv: int32 accumulation, one float32 requantization."""

    def __init__(self, layer: QuantLayer, source: FakeQuantizer, output: FakeQuantizer) -> None:
        super().__init__()
        _refer(self, layer=layer, source=source, output=output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layer = self.layer
        x_scale, x_zero = _params(self.source)
        weight_quant = layer.weight_quant
        weight_codes = weight_quant.int_codes(layer.weight).double()
        bias = None if layer.bias is None else layer.integer_bias_codes().double()
        # Integer products summed in float64 are exact (|sum| << 2^53); zero padding is code x_zero.
        codes = _codes(x, self.source).double() - x_zero.double()
        if isinstance(layer, nn.ConvTranspose2d):  # exported in sub-pixel form: the same int32 sums
            accumulator = nn.functional.conv_transpose2d(codes, weight_codes, bias, layer.stride, layer.padding,
                                                         layer.output_padding, layer.groups, layer.dilation)
        else:
            accumulator = layer._conv_forward(codes, weight_codes, bias)
        ratio = (x_scale * weight_quant.scale.detach().float().reshape(-1)) / _params(self.output)[0]
        ratio = ratio.reshape((1, -1) + (1,) * (accumulator.dim() - 2))
        return _dequantized(torch.round(accumulator.float() * ratio), self.output).to(x.dtype)


class _LoneConv:
    """A quantized convolution's forward with its own input and output quantizers, as ONNX Runtime
    runs it: QuantizeLinear, then QLinearConv."""

    def __init__(self, layer: QuantLayer) -> None:
        self.quantize_input = DividingQuantizer(layer.input_quant)
        self.conv = IntegerConv(layer, layer.input_quant, layer.output_quant)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.quantize_input(x))


def _lone_integer_conv(module: nn.Module) -> bool:
    if not (isinstance(module, QuantLayer) and isinstance(module, _CONV_TYPES)) or "forward" in module.__dict__:
        return False
    return _per_tensor_integer(module.output_quant) and _integer_conv(module, module.input_quant)


class _BinaryKernel(nn.Module):
    """An elementwise op on two quantized tensors and its output quantizer."""

    def __init__(self, a: FakeQuantizer, b: FakeQuantizer, output: FakeQuantizer) -> None:
        super().__init__()
        _refer(self, a=a, b=b, output=output)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        shape = torch.broadcast_shapes(a.shape, b.shape)
        codes_a, codes_b = _codes(a, self.a).expand(shape), _codes(b, self.b).expand(shape)
        result = self.requantize(codes_a, codes_b, _params(self.a), _params(self.b), _params(self.output))
        return _dequantized(torch.round(result) - _params(self.output)[1], self.output).to(a.dtype)

    def requantize(self, codes_a: torch.Tensor, codes_b: torch.Tensor, a: Params, b: Params, out: Params) -> torch.Tensor:
        """The output code before rounding (its zero point included)."""
        raise NotImplementedError


class IntegerAdd(_BinaryKernel):
    """a + b as QLinearAdd (x86 AVX2 kernel): round(fma(a, s_a/s_c, fma(b, s_b/s_c, F))) on the
    codes, zero points folded into F, broadcasting or not."""

    def requantize(self, codes_a: torch.Tensor, codes_b: torch.Tensor, a: Params, b: Params, out: Params) -> torch.Tensor:
        ratio_a, ratio_b = a[0] / out[0], b[0] / out[0]
        fixed = out[1] - _fma(ratio_a, a[1], ratio_b * b[1])  # the compiler contracts it so
        return _fma(codes_a, ratio_a, _fma(codes_b, ratio_b, fixed.expand(codes_a.shape)))


class IntegerMul(_BinaryKernel):
    """a * b as QLinearMul: (a - z_a)(b - z_b) * float32(s_a s_b / s_c) + z_c."""

    def requantize(self, codes_a: torch.Tensor, codes_b: torch.Tensor, a: Params, b: Params, out: Params) -> torch.Tensor:
        product = (codes_a - a[1]) * (codes_b - b[1])  # exact: |product| < 2^24
        return product * ((a[0] * b[0]) / out[0]) + out[1]


class _Emulation:
    """One pass over a traced graph: each quantizer call and the op that made its input."""

    def __init__(self, graph_module: fx.GraphModule) -> None:
        self.gm = graph_module
        self.count = 0
        self.left: list[str] = []
        self.grid_of: dict[fx.Node, FakeQuantizer] = {}  # emulating node -> the quantizer whose grid it keeps

    def run(self) -> list[str]:
        for node in list(self.gm.graph.nodes):
            quantizer = self._quantizer(node)
            if quantizer is None or not _per_tensor_integer(quantizer):
                continue
            producer = node.args[0]
            if not isinstance(producer, fx.Node) or self._source(producer) is quantizer:
                continue  # a re-run after a movement op: an identity
            self._emulate(node, producer, quantizer)
        self.gm.graph.eliminate_dead_code()
        self.gm.graph.lint()
        self.gm.recompile()
        return self.left

    def _quantizer(self, node: fx.Node) -> Optional[FakeQuantizer]:
        if node.op != "call_module" or not str(node.target).startswith(GRAPH_QUANT_PREFIX):
            return None
        module = self.gm.get_submodule(str(node.target))
        return module if isinstance(module, FakeQuantizer) else None

    def _source(self, node: fx.Node) -> Optional[FakeQuantizer]:
        """The quantizer whose grid ``node``'s values lie on (through movement ops), if any."""
        while True:
            quantizer = self.grid_of.get(node) or self._quantizer(node)
            if quantizer is not None:
                return quantizer
            if not is_movement(self.gm, node):
                return None
            tensors = [arg for arg in node.args if isinstance(arg, fx.Node)]
            if not tensors:
                return None
            node = tensors[0]

    def _emulate(self, node: fx.Node, producer: fx.Node, quantizer: FakeQuantizer) -> None:
        from_float_input = is_movement(self.gm, producer) and self._source(producer) is None  # e.g. a parameter row
        if producer.op in ("placeholder", "get_attr") or producer.target in _DIVIDING_OPS or from_float_input:
            self._replace(node, DividingQuantizer(quantizer), (producer,), quantizer)
            return
        builder = self._builder(producer, quantizer)
        if builder is None:
            self.left.append(producer.name)
            return
        self._replace(node, builder(), producer.args, quantizer)

    def _builder(self, producer: fx.Node, quantizer: FakeQuantizer) -> Optional[Callable[[], nn.Module]]:
        if producer.op == "call_module":
            layer = self.gm.get_submodule(str(producer.target))
            source = layer.__dict__.get("input_source") if isinstance(layer, QuantLayer) else None
            transposed = isinstance(layer, nn.ConvTranspose2d) and subpixel_unsupported(layer) is None
            if (isinstance(layer, _CONV_TYPES) or transposed) and _integer_conv(layer, source):
                return lambda: IntegerConv(layer, source, quantizer)
            return None
        operands = [arg for arg in producer.args if isinstance(arg, fx.Node)]
        if len(operands) != 2 or len(producer.args) != 2 or producer.kwargs:
            return None
        sources = [self._source(arg) for arg in operands]
        if not all(_per_tensor_integer(source) for source in sources):
            return None
        if producer.target in _ADD:
            return lambda: IntegerAdd(sources[0], sources[1], quantizer)
        if producer.target in _MUL:
            return lambda: IntegerMul(sources[0], sources[1], quantizer)
        return None

    def _replace(self, node: fx.Node, module: nn.Module, args: tuple, quantizer: FakeQuantizer) -> None:
        name = f"integer_kernel_{self.count}"
        self.count += 1
        self.gm.add_submodule(name, module)
        with self.gm.graph.inserting_after(node):
            emulated = self.gm.graph.call_module(name, tuple(args))
        emulated.meta = dict(node.meta)
        self.grid_of[emulated] = quantizer
        node.replace_all_uses_with(emulated)
        self.gm.graph.erase_node(node)


def _integer_conv(layer: nn.Module, source: object) -> bool:
    """A convolution QLinearConv runs: 8-bit static weights with integer codes, a per-tensor
    integer input, zero padding and an int32 bias (or none)."""
    weight_quant = getattr(layer, "weight_quant", None)
    if weight_quant is None or not _per_tensor_integer(source):
        return False
    if not (weight_quant.has_integer_codes and weight_quant.spec.bits <= 8 and weight_quant.is_initialized):
        return False
    if weight_quant.spec.granularity.kind not in ("per_tensor", "per_channel") or layer.padding_mode != "zeros":
        return False
    return layer.bias is None or layer.integer_bias_step() is not None



def pair_sum_range(weight_codes: torch.Tensor, codes: tuple[int, int] = UINT8_CODES) -> tuple[int, int]:
    """The smallest and largest sum a0 * w0 + a1 * w1 that a pairwise kernel (``vpmaddubsw``) can
    form from activation codes in ``codes`` and any two weights of one output channel (dim 0 of
    ``weight_codes``), whatever order the kernel packs the reduction in: per channel, the two most
    negative and the two most positive products."""
    weights = weight_codes.detach().reshape(weight_codes.shape[0], -1).long()
    ends = torch.stack([weights * codes[0], weights * codes[1]])
    largest, smallest = ends.amax(0), ends.amin(0)
    pair = min(2, weights.shape[1])
    high = largest.topk(pair, dim=1).values.clamp(min=0).sum(1).max()
    low = smallest.topk(pair, dim=1, largest=False).values.clamp(max=0).sum(1).min()
    return int(low), int(high)


def saturating_convolutions(model: nn.Module) -> list[str]:
    """Names of the convolutions that integer kernels run (graph scope, or a lone convolution with
    integer input and output quantizers) whose int16 pair sums can overflow for some uint8 input."""
    found = []
    for name, layer in model.named_modules():
        if not isinstance(layer, QuantLayer) or not isinstance(layer, _CONV_TYPES):
            continue
        source = layer.__dict__.get("input_source") or layer.input_quant
        if not _integer_conv(layer, source):
            continue
        low, high = pair_sum_range(layer.weight_quant.int_codes(layer.weight))
        if low < INT16_RANGE[0] or high > INT16_RANGE[1]:
            found.append(name)
    return found
