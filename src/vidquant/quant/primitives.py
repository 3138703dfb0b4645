"""Quantization arithmetic as pure functions, shared by modules, checkpoints and export.

Everything divides by multiplying with the reciprocal step, exactly as PyTorch's
``fake_quantize_per_*_affine`` kernels do, so results match them bit for bit.
"""

from __future__ import annotations

import math

import torch


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round half to even forward, identity gradient (straight-through estimator).

    Written as round(x) + (x - x.detach()) so the forward value is exactly round(x)
    (x + (round(x) - x) can miss it by an ulp, and then integer codes would not match).
    """
    return torch.round(x).detach() + (x - x.detach())


def grad_scale(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Exactly the same value, gradient multiplied by ``scale`` (LSQ's step-size gradient scaling)."""
    scaled = x * scale
    return x.detach() + (scaled - scaled.detach())


def lsq_grad_scale(elements_per_step: int, qmax: int) -> float:
    """LSQ gradient scale g = 1 / sqrt(N * Qp)."""
    return 1.0 / math.sqrt(max(elements_per_step, 1) * max(qmax, 1))


def fake_quantize_affine(
    x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor | float, qmin: int, qmax: int
) -> torch.Tensor:
    """clamp(round(x / s) + z) - z, times s; straight-through gradient to x."""
    q = torch.clamp(round_ste(x * scale.reciprocal()) + zero_point, qmin, qmax)
    return (q - zero_point) * scale


def lsq_quantize(x: torch.Tensor, step: torch.Tensor, qmin: int, qmax: int, g: float) -> torch.Tensor:
    """LSQ (Esser et al. 2020): round(clamp(x / s, -Qn, Qp)) * s with scaled step gradient."""
    s = grad_scale(step, g)
    return round_ste(torch.clamp(x * s.reciprocal(), qmin, qmax)) * s


def lsq_plus_quantize(
    x: torch.Tensor, step: torch.Tensor, offset: torch.Tensor, qmin: int, qmax: int, g: float
) -> torch.Tensor:
    """LSQ+ (Bhalgat et al. 2020): round(clamp((x - beta) / s)) * s + beta, both learnable."""
    s = grad_scale(step, g)
    beta = grad_scale(offset, g)
    return round_ste(torch.clamp((x - beta) * s.reciprocal(), qmin, qmax)) * s + beta


def quantize_to_int(
    x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor | float, qmin: int, qmax: int
) -> torch.Tensor:
    """Integer codes (int32) of ``x``: the values fake quantization would produce, before rescaling."""
    q = torch.clamp(torch.round(x * scale.reciprocal()) + zero_point, qmin, qmax)
    return q.to(torch.int32)


def dequantize_int(q: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor | float) -> torch.Tensor:
    return (q.to(torch.float32) - zero_point) * scale


def scale_from_range(
    low: torch.Tensor, high: torch.Tensor, qmin: int, qmax: int, symmetric: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Step and integer zero point that cover [low, high] (always including 0)."""
    low = torch.minimum(low, torch.zeros_like(low))
    high = torch.maximum(high, torch.zeros_like(high))
    tiny = torch.finfo(torch.float32).tiny
    if symmetric:
        bound = torch.maximum(-low, high)
        levels = (qmax - qmin) / 2 if qmin < 0 else qmax
        scale = torch.clamp(bound / levels, min=tiny)
        return scale, torch.zeros_like(scale)
    scale = torch.clamp((high - low) / (qmax - qmin), min=tiny)
    zero_point = torch.clamp(qmin - torch.round(low / scale), qmin, qmax)
    return scale, zero_point


# Step widening of per-row dynamic ranges. Decoded 8-bit frames in [-1, 1] (and their bilinear
# averages) sit exactly on rounding ties of the plain step (x / step = u - 127.5): a runtime whose
# resize differs in the last bit then rounds a few percent of them the other way. 2^-10 moves
# every such value off the tie by far more than a last-bit difference and costs 0.1 % of range.
ROW_STEP_WIDEN = 1.0 + 2.0**-10


def dynamic_fake_quantize(
    x: torch.Tensor, dims: tuple[int, ...], qmin: int, qmax: int, symmetric: bool, straight_through: bool = True
) -> torch.Tensor:
    """Quantize-dequantize ``x`` with one range per slice over ``dims``, measured now.

    Same rules as ONNX DynamicQuantizeLinear (range includes 0, zero point round(qmin - low /
    step), codes round(x / step) + zero, ties to even) with the step widened by ROW_STEP_WIDEN
    and true division, written in plain ops so the ONNX graph traced from it computes the same."""
    low = torch.clamp(x.amin(dim=dims, keepdim=True), max=0.0)
    high = torch.clamp(x.amax(dim=dims, keepdim=True), min=0.0)
    levels = (qmax - qmin) / 2 if symmetric and qmin < 0 else qmax - qmin
    span = torch.maximum(-low, high) if symmetric else high - low
    scale = torch.clamp(span * (ROW_STEP_WIDEN / levels), min=torch.finfo(torch.float32).tiny)
    zero = torch.zeros_like(scale) if symmetric else torch.clamp(torch.round(qmin - low / scale), qmin, qmax)
    rounded = round_ste(x / scale) if straight_through else torch.round(x / scale)
    return (torch.clamp(rounded + zero, qmin, qmax) - zero) * scale


def container_bits(bits: int) -> int:
    """Storage width of one code: 2-bit codes pack four per byte, 3/4-bit two, wider ones whole bytes."""
    for width in (2, 4, 8, 16):
        if bits <= width:
            return width
    raise ValueError(f"no container for {bits} bits")


def packed_nbytes(numel: int, bits: int) -> int:
    width = container_bits(bits)
    return math.ceil(numel * width / 8)


def pack_codes(q: torch.Tensor, bits: int) -> torch.Tensor:
    """Pack integer codes into a flat uint8 (sub-byte) or int8/int16 tensor, low bits first."""
    width = container_bits(bits)
    flat = q.reshape(-1).to(torch.int32)
    if width == 16:
        return flat.to(torch.int16)
    if width == 8:
        return flat.to(torch.int8)
    per_byte = 8 // width
    mask = (1 << width) - 1
    padded = torch.zeros(math.ceil(flat.numel() / per_byte) * per_byte, dtype=torch.int32)
    padded[: flat.numel()] = flat & mask
    lanes = padded.view(-1, per_byte)
    packed = torch.zeros(lanes.shape[0], dtype=torch.int32)
    for lane in range(per_byte):
        packed |= lanes[:, lane] << (lane * width)
    return packed.to(torch.uint8)


def unpack_codes(packed: torch.Tensor, bits: int, numel: int, signed: bool) -> torch.Tensor:
    """Inverse of :func:`pack_codes`: int32 codes, sign-extended when ``signed``."""
    width = container_bits(bits)
    if width >= 8:
        return packed.to(torch.int32)[:numel]
    per_byte = 8 // width
    mask = (1 << width) - 1
    data = packed.to(torch.int32)
    lanes = [(data >> (lane * width)) & mask for lane in range(per_byte)]
    codes = torch.stack(lanes, dim=1).reshape(-1)[:numel]
    if signed:
        codes = torch.where(codes >= 1 << (width - 1), codes - (1 << width), codes)
    return codes
