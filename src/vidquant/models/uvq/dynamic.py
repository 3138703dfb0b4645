"""dynamic-int8 inputs for UVQ: uint8 ranges measured at run time per row of the integer GEMM.

One range per whole activation tensor (ONNX DynamicQuantizeLinear) lets a few large channels
or pixels set the step for all others; UVQ's random-like stand-in trunks then lose ~12 % of
their features. A range may instead follow any axis the integer dot product does not sum
over, so it still factors out of the int32 accumulator (TFLite's dynamic-range kernels use one
range per batch row in the same way):

* 1x1 convolutions sum over channels only: one range per pixel (the GEMM row);
* depthwise convolutions sum over one channel's window: one range per channel;
* every other convolution (the stem, the 2x2 head) keeps one range per image.

Numerics follow ONNX Runtime's DynamicQuantizeLinear (range including 0, zero point
round(-min / step), codes round(x / step) + zero point, ties to even), written as plain ONNX
ops with true division, with one change: the step is (max - min) / 255 widened by 2^-10.
Decoded 8-bit frames in [-1, 1] and their bilinear averages sit exactly on rounding ties of
the plain step (x / step = u - 127.5), and runtimes whose resize differs in the last bit
then round 4 % of the stem's inputs the other way (2 % score difference ONNX vs PyTorch);
the widened step moves every such value off the tie by far more than a last-bit difference.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn as nn

from vidquant.quant.api import quant_layers

QMAX = 255.0
WIDEN = 1.0 + 2.0**-10  # step widening that keeps grid-aligned inputs off rounding ties


def dynamic_uint8(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """Quantize-dequantize ``x`` to uint8 with one asymmetric range per slice over ``dims``."""
    low = torch.clamp(x.amin(dim=dims, keepdim=True), max=0.0)
    high = torch.clamp(x.amax(dim=dims, keepdim=True), min=0.0)
    scale = torch.clamp((high - low) * (WIDEN / QMAX), min=torch.finfo(torch.float32).tiny)
    zero = torch.clamp(torch.round(-low / scale), 0.0, QMAX)
    return (torch.clamp(torch.round(x / scale) + zero, 0.0, QMAX) - zero) * scale


def row_dims(layer: nn.Module) -> tuple[int, ...]:
    """The axes one run-time range covers for this layer's (N, C, H, W) input."""
    if isinstance(layer, nn.Conv2d):
        if layer.groups > 1 and layer.groups == layer.in_channels:
            return (2, 3)  # depthwise: per image and channel
        if tuple(layer.kernel_size) == (1, 1) and layer.groups == 1:
            return (1,)  # 1x1: per pixel
    if isinstance(layer, nn.Linear):
        return (-1,)  # per row
    return (1, 2, 3)  # per image


def _row_quantizer(dims: tuple[int, ...]) -> Callable[[torch.Tensor], torch.Tensor]:
    def quantize_input(x: torch.Tensor) -> torch.Tensor:
        return dynamic_uint8(x, dims if x.dim() == 4 or dims == (-1,) else tuple(range(1, x.dim())))

    return quantize_input


def install_row_dynamic(model: nn.Module) -> int:
    """In place: every layer with a dynamic input quantizer takes its ranges per GEMM row.

    The layer's FakeQuantizer stays (its checkpoint keys and recipe record are unchanged); only
    the layer's ``quantize_input`` is replaced. Returns how many layers changed."""
    count = 0
    for _, layer in quant_layers(model):
        quantizer: Optional[nn.Module] = layer.input_quant
        if quantizer is not None and getattr(quantizer, "spec", None) is not None and quantizer.spec.dynamic:
            layer.quantize_input = _row_quantizer(row_dims(layer))  # type: ignore[method-assign]
            count += 1
    return count
