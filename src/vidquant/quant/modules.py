"""Quantized drop-in layers: the torch layer plus optional weight / input / output quantizers.

Each keeps its torch parameters under the same names, so checkpoints of the float model load
into it; quantizer state adds ``weight_quant.*``, ``input_quant.*`` and ``output_quant.*`` keys.
"""

from __future__ import annotations

import copy
from typing import Callable, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from vidquant.quant.primitives import round_ste
from vidquant.quant.quantizer import FakeQuantizer
from vidquant.quant.spec import LayerSpecs, QuantSpec


class MatMul(nn.Module):
    """Float ``torch.matmul`` as a module, so attention products can be found and quantized."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


class QuantLayer:
    """Mixin: quantizer slots and the helpers every quantized layer's forward uses."""

    weight_channel_axis = 0  # output channels

    weight_quant: Optional[FakeQuantizer]
    input_quant: Optional[FakeQuantizer]
    output_quant: Optional[FakeQuantizer]

    def attach_quantizers(self, specs: LayerSpecs) -> None:
        weight = getattr(self, "weight", None)
        self.weight_quant = None
        if specs.weight is not None and weight is not None:
            self.weight_quant = FakeQuantizer(
                specs.weight,
                role="weight",
                shape=tuple(weight.shape),
                channel_axis=self.weight_channel_axis,
            )
        self.input_quant = _activation_quantizer(
            specs.input, getattr(self, "in_channels", None) or getattr(self, "in_features", 1), self.input_row_dims()
        )
        self.output_quant = _activation_quantizer(specs.output, getattr(self, "out_channels", None) or getattr(self, "out_features", 1))
        self.layer_specs = specs

    def input_row_dims(self) -> tuple[int, ...]:
        """The input axes one row of this layer's integer GEMM spans (what its dot product sums
        over): a per-row dynamic range over them factors out of the int32 accumulator."""
        return (-1,)

    # Installed by vidquant.export while tracing: the bias as an int32 DequantizeLinear.
    bias_fn: Optional[Callable[[], torch.Tensor]] = None

    def layer_bias(self) -> Optional[torch.Tensor]:
        """The bias as integer kernels add it: int32 codes on the grid s_input * s_weight when
        both are static integer quantizers (else the float bias)."""
        if self.bias_fn is not None:
            return self.bias_fn()
        bias = self.bias  # type: ignore[attr-defined]
        step = self.integer_bias_step()
        if step is None:
            return bias
        return torch.clamp(round_ste(bias / step), -INT32_LIMIT, INT32_LIMIT) * step

    def integer_bias_codes(self, step: Optional[torch.Tensor] = None) -> Optional[torch.Tensor]:
        """The bias's int32 codes (float tensor) on the grid ``integer_bias_step`` (pass ``step``
        when already computed), as exported and as integer kernels add them; None when the layer
        has no integer form."""
        step = self.integer_bias_step() if step is None else step
        if step is None:
            return None
        return torch.clamp(torch.round(self.bias.detach() / step), -INT32_LIMIT, INT32_LIMIT)  # type: ignore[attr-defined]

    def integer_bias_step(self) -> Optional[torch.Tensor]:
        """Per-output-channel step of an int32 bias, or None when the layer has no integer form:
        8-bit static weights with integer codes (not per block) and a static per-tensor input
        quantizer (its own, or with graph scope the ``input_source`` that made its input)."""
        bias = getattr(self, "bias", None)
        weights, inputs = self.weight_quant, self.input_quant or self.__dict__.get("input_source")
        if bias is None or weights is None or inputs is None:
            return None
        if not (_static_integer(weights) and _static_integer(inputs) and weights.has_integer_codes):
            return None
        if inputs.spec.granularity.kind != "per_tensor" or weights.spec.granularity.kind == "per_block":
            return None
        if not (weights.is_initialized and inputs.is_initialized):
            return None
        return (inputs.scale.reshape(()) * weights.scale.reshape(-1)).expand(bias.numel())

    def quantized_weight(self) -> torch.Tensor:
        weight = self.weight  # type: ignore[attr-defined]
        return self.weight_quant(weight) if self.weight_quant is not None else weight

    def quantize_input(self, x: torch.Tensor) -> torch.Tensor:
        return self.input_quant(x) if self.input_quant is not None else x

    def quantize_output(self, y: torch.Tensor) -> torch.Tensor:
        return self.output_quant(y) if self.output_quant is not None else y

    @classmethod
    def from_float(cls, module: nn.Module, specs: LayerSpecs) -> "QuantLayer":
        """The same layer (sharing its parameters) as this quantized class."""
        layer = cls.__new__(cls)
        layer.__dict__ = {
            key: copy.copy(value) if isinstance(value, (dict, set)) else value
            for key, value in module.__dict__.items()
        }
        layer.attach_quantizers(specs)
        return layer


INT32_LIMIT = 2**31 - 1


def _static_integer(quantizer: FakeQuantizer) -> bool:
    return quantizer.spec.bits <= 8 and not (quantizer.spec.is_float or quantizer.spec.dynamic)


def _activation_quantizer(spec: Optional[QuantSpec], channels: int, row_dims: tuple[int, ...] = (-1,)) -> Optional[FakeQuantizer]:
    if spec is None:
        return None
    return FakeQuantizer(spec, role="activation", channels=channels, channel_axis=1, row_dims=row_dims)


class _QuantConvNd(QuantLayer):
    def input_row_dims(self) -> tuple[int, ...]:
        """1x1: channels (per pixel); depthwise: the window (per channel); otherwise per image.
        Axes count from the end, so unbatched inputs work too."""
        spatial = len(self.kernel_size)  # type: ignore[attr-defined]
        groups, channels = self.groups, self.in_channels  # type: ignore[attr-defined]
        if groups == 1 and all(k == 1 for k in self.kernel_size):  # type: ignore[attr-defined]
            return (-spatial - 1,)
        if groups == channels:
            return tuple(range(-spatial, 0))
        return tuple(range(-spatial - 1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self._conv_forward(self.quantize_input(x), self.quantized_weight(), self.layer_bias())  # type: ignore[attr-defined]
        return self.quantize_output(y)


class QuantConv1d(_QuantConvNd, nn.Conv1d):
    pass


class QuantConv2d(_QuantConvNd, nn.Conv2d):
    pass


class QuantConv3d(_QuantConvNd, nn.Conv3d):
    pass


class QuantConvTranspose2d(QuantLayer, nn.ConvTranspose2d):
    weight_channel_axis = 1  # weight is [in, out / groups, kh, kw]

    def input_row_dims(self) -> tuple[int, ...]:
        """Every input pixel's channels meet the weight on their own (col2im adds afterwards):
        per pixel without groups, else per image."""
        return (-3,) if self.groups == 1 else (-3, -2, -1)

    # Installed by vidquant.export while tracing: the sub-pixel form (Conv + DepthToSpace).
    export_forward: Optional[Callable[..., torch.Tensor]] = None

    def forward(self, x: torch.Tensor, output_size: Optional[list[int]] = None) -> torch.Tensor:
        if self.export_forward is not None:
            return self.quantize_output(self.export_forward(x, output_size))
        output_padding = self._output_padding(
            x, output_size, list(self.stride), list(self.padding), list(self.kernel_size), 2, list(self.dilation)
        )
        y = F.conv_transpose2d(
            self.quantize_input(x),
            self.quantized_weight(),
            self.layer_bias(),
            self.stride,
            self.padding,
            output_padding,
            self.groups,
            self.dilation,
        )
        return self.quantize_output(y)


class QuantLinear(QuantLayer, nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.quantize_output(F.linear(self.quantize_input(x), self.quantized_weight(), self.layer_bias()))


class QuantMatMul(QuantLayer, MatMul):
    """``a @ b`` with both operands quantized by the activation spec (q @ k^T, attn @ v)."""

    def attach_quantizers(self, specs: LayerSpecs) -> None:
        super().attach_quantizers(specs)
        self.other_quant = _activation_quantizer(specs.input, 1, (-2,))  # b's columns meet a's rows

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        b = self.other_quant(b) if self.other_quant is not None else b
        return self.quantize_output(torch.matmul(self.quantize_input(a), b))


QUANT_LAYER_FOR: dict[type[nn.Module], type[QuantLayer]] = {
    nn.Conv1d: QuantConv1d,
    nn.Conv2d: QuantConv2d,
    nn.Conv3d: QuantConv3d,
    nn.ConvTranspose2d: QuantConvTranspose2d,
    nn.Linear: QuantLinear,
    MatMul: QuantMatMul,
}
