"""A transposed convolution as one convolution followed by DepthToSpace (sub-pixel form).

ONNX Runtime's CPU provider has no integer ConvTranspose, but it has QLinearConv. A
``ConvTranspose2d`` with stride s (the same on both axes), kernel k, padding p, output padding
op, one group and no dilation computes, for each of the s x s output phases, a plain
correlation of the input with K = ceil(k / s) taps of its kernel. So it equals

    Conv2d(C_in -> C_out * s * s, K x K, padding K - 1) -> PixelShuffle(s) (DepthToSpace, CRD)
    -> crop rows / columns [p, p + H_out)

with the weight rearranged (``subpixel_weight``) and the bias repeated s * s times. The
products summed for every output value are exactly those of the transposed convolution (the
extra taps are zero weights or zero padding), so with integer codes the int32 accumulators are
the same and the result is bit-exact; in float the summation order differs (~1e-7 relative).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


def subpixel_unsupported(layer: nn.ConvTranspose2d) -> Optional[str]:
    """Why ``layer`` has no sub-pixel form (None: it has one)."""
    if layer.groups != 1:
        return "grouped transposed convolution"
    if tuple(layer.dilation) != (1, 1):
        return "dilated transposed convolution"
    if layer.stride[0] != layer.stride[1]:
        return "different strides per axis (DepthToSpace takes one block size)"
    if layer.padding_mode != "zeros":
        return f"padding mode {layer.padding_mode}"
    return None


def subpixel_taps(layer: nn.ConvTranspose2d) -> tuple[int, int]:
    """(K, K) taps of the sub-pixel convolution."""
    stride = layer.stride[0]
    return math.ceil(layer.kernel_size[0] / stride), math.ceil(layer.kernel_size[1] / stride)


def subpixel_weight(weight: torch.Tensor, stride: int) -> torch.Tensor:
    """[C_in, C_out, kh, kw] transposed-convolution weight -> [C_out * s * s, C_in, Kh, Kw]
    convolution weight, output channel o * s * s + ry * s + rx holding phase (ry, rx) of o."""
    c_in, c_out, kh, kw = weight.shape
    taps_h, taps_w = math.ceil(kh / stride), math.ceil(kw / stride)
    padded = F.pad(weight, (0, taps_w * stride - kw, 0, taps_h * stride - kh))
    # kernel index a * s + r: tap a of phase r; the convolution reads taps in reverse order
    grouped = padded.reshape(c_in, c_out, taps_h, stride, taps_w, stride).flip(2, 4)
    return grouped.permute(1, 3, 5, 0, 2, 4).reshape(c_out * stride * stride, c_in, taps_h, taps_w)


def subpixel_output_shape(layer: nn.ConvTranspose2d, x: torch.Tensor, output_size: Optional[list[int]] = None) -> tuple[int, int]:
    output_padding = layer._output_padding(
        x, output_size, list(layer.stride), list(layer.padding), list(layer.kernel_size), 2, list(layer.dilation)
    )
    return tuple(  # type: ignore[return-value]
        (x.shape[-2 + axis] - 1) * layer.stride[axis] - 2 * layer.padding[axis] + layer.kernel_size[axis]
        + output_padding[axis]
        for axis in (0, 1)
    )


def subpixel_conv_transpose(
    layer: nn.ConvTranspose2d,
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor],
    output_size: Optional[list[int]] = None,
    requantize=None,
) -> torch.Tensor:
    """``layer``'s transposed convolution of ``x`` in sub-pixel form, given the rearranged
    ``weight`` (``subpixel_weight``) and ``bias`` (repeated s * s times). ``requantize`` (a
    quantizer) runs on the convolution's output before DepthToSpace, so that an exported graph
    reads DequantizeLinear -> Conv -> QuantizeLinear (a QLinearConv)."""
    stride = layer.stride[0]
    taps_h, taps_w = subpixel_taps(layer)
    out_h, out_w = subpixel_output_shape(layer, x, output_size)
    pad_h, pad_w = layer.padding
    # rows / columns needed past the full output (output padding beyond it): more zero padding,
    # on both sides so that it stays the convolution's own (a Pad node would block QLinearConv)
    extra_h = max(0, math.ceil((pad_h + out_h - stride * (x.shape[-2] + taps_h - 1)) / stride))
    extra_w = max(0, math.ceil((pad_w + out_w - stride * (x.shape[-1] + taps_w - 1)) / stride))
    y = F.conv2d(x, weight, bias, padding=(taps_h - 1 + extra_h, taps_w - 1 + extra_w))
    if requantize is not None:
        y = requantize(y)
    y = F.pixel_shuffle(y, stride)
    top, left = pad_h + extra_h * stride, pad_w + extra_w * stride
    return y[..., top:top + out_h, left:left + out_w]
