"""GPTQ (Frantar et al. 2023): second-order weight rounding from a few calibration inputs.

Round-to-nearest rounds every weight independently. GPTQ quantizes a layer's GEMM matrix one
input column at a time and spreads each column's rounding error over the columns not yet
quantized, weighted by the inverse Hessian H = X X^T of the layer's inputs, so the layer's
*output* on real inputs moves least. The quantization grid (step, zero point) is kept as the
layer's weight quantizer already has it, so checkpoints and exports are unchanged: only which
integer code each weight gets differs. Grouped convolutions (depthwise included) get one
Hessian per group.

Layers are processed in forward order, each with inputs from the already-quantized layers
before it (``gptq_sequential``), and an optional bias correction removes the mean output
shift the new codes leave on those inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from vidquant.errors import VidquantError
from vidquant.calibrate.ptq import Forward, default_forward
from vidquant.quant.api import quant_layers
from vidquant.quant.modules import QuantLayer
from vidquant.quant.quantizer import FakeQuantizer



class _Stop(Exception):
    """Raised by the input hook once the layer of interest has seen its input (skips the rest)."""


@dataclass
class InputStats:
    """Running X X^T (per group) and mean input column of one layer's GEMM view."""

    hessian: torch.Tensor  # (groups, K, K), float64
    total: torch.Tensor  # (groups, K), float64: sum of columns
    count: int = 0

    def add(self, columns: torch.Tensor) -> None:
        """``columns``: (groups, K, N) inputs of the GEMM (one column per output position)."""
        cols = columns.double()
        self.hessian += cols @ cols.transpose(1, 2)
        self.total += cols.sum(2)
        self.count += cols.shape[2]


def gemm_columns(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The layer's input as GEMM columns (groups, in/groups * kh * kw, N)."""
    if isinstance(layer, nn.Conv2d):
        groups = layer.groups
        cols = F.unfold(x, layer.kernel_size, dilation=layer.dilation, padding=layer.padding, stride=layer.stride)
        per_group = cols.shape[1] // groups  # unfold orders channel-major: (C * kh * kw)
        return cols.reshape(x.shape[0], groups, per_group, -1).permute(1, 2, 0, 3).reshape(groups, per_group, -1)
    if isinstance(layer, nn.Linear):
        return x.reshape(-1, x.shape[-1]).t()[None]
    raise VidquantError(f"GPTQ handles Conv2d and Linear layers, not {type(layer).__name__}")


def _groups(layer: nn.Module) -> int:
    return layer.groups if isinstance(layer, nn.Conv2d) else 1


def collect_input_stats(
    model: nn.Module, layer: QuantLayer, batches: Sequence[Any], forward: Forward = default_forward
) -> InputStats:
    """Hessian and mean of ``layer``'s input (quantized, as the layer sees it) over the batches;
    each forward stops once the layer has seen its input."""
    weight = layer.weight  # type: ignore[attr-defined]
    groups = _groups(layer)  # type: ignore[arg-type]
    k = weight[0].numel()
    stats = InputStats(torch.zeros(groups, k, k, dtype=torch.float64), torch.zeros(groups, k, dtype=torch.float64))

    def hook(module: nn.Module, args: tuple) -> None:
        stats.add(gemm_columns(module, module.quantize_input(args[0].float())))  # type: ignore[attr-defined]
        raise _Stop

    handle = layer.register_forward_pre_hook(hook)  # type: ignore[attr-defined]
    try:
        with torch.no_grad():
            for batch in batches:
                try:
                    forward(model, batch)
                except _Stop:
                    pass
    finally:
        handle.remove()
    if stats.count == 0:
        raise VidquantError("GPTQ: the calibration run never reached the layer")
    return stats


def gptq_codes(weight: torch.Tensor, hessian: torch.Tensor, quantize_rows: Callable[[torch.Tensor], torch.Tensor],
               damp: float = 0.01) -> torch.Tensor:
    """GPTQ-rounded weights on the quantizer's grid.

    ``weight``: (groups, rows, K) GEMM matrices; ``hessian``: (groups, K, K);
    ``quantize_rows(w)``: fake quantization of one column (groups, rows) on the fixed grid.
    """
    w = weight.double().clone()
    h = hessian.clone()
    diagonal = torch.diagonal(h, dim1=1, dim2=2)  # a view: writes go into h
    dead = diagonal == 0  # inputs that are always zero: their weights never matter
    diagonal[dead] = 1.0
    mean_diag = torch.diagonal(h, dim1=1, dim2=2).mean(1)
    h += torch.diag_embed((damp * mean_diag)[:, None].expand(-1, h.shape[1]))
    # Upper Cholesky factor of H^-1: row i holds the update weights for columns after i.
    inverse = torch.cholesky_inverse(torch.linalg.cholesky(h))
    upper = torch.linalg.cholesky(inverse, upper=True)
    out = torch.empty_like(w)
    for i in range(w.shape[2]):
        column = w[:, :, i]
        quantized = quantize_rows(column.float()).double()
        out[:, :, i] = quantized
        error = (column - quantized) / upper[:, i, i][:, None]
        w[:, :, i + 1 :] -= error[:, :, None] * upper[:, i, i + 1 :][:, None, :]
    return out.float()


def _column_quantizer(quantizer: FakeQuantizer, weight: torch.Tensor, groups: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """Fake quantization of one GEMM column (groups, rows) with the per-output-channel grid."""
    if quantizer.spec.granularity.kind != "per_channel" or quantizer.scale.numel() != weight.shape[0]:
        raise VidquantError("GPTQ here keeps per-channel weight grids only")
    scale = quantizer.scale.detach().reshape(groups, -1)
    zero = quantizer.zero_points().detach().reshape(groups, -1)
    qmin, qmax = quantizer.spec.qmin, quantizer.spec.qmax

    def quantize(column: torch.Tensor) -> torch.Tensor:
        codes = torch.clamp(torch.round(column * scale.reciprocal()) + zero, qmin, qmax)
        return (codes - zero) * scale

    return quantize


def gptq_layer(layer: QuantLayer, stats: InputStats, damp: float = 0.01, bias_correction: bool = True) -> float:
    """Replace the layer's float weight by its GPTQ-rounded values (on the locked grid); returns
    the relative output-error reduction estimate tr(E H E^T) GPTQ / round-to-nearest."""
    weight = layer.weight  # type: ignore[attr-defined]
    quantizer = layer.weight_quant
    if quantizer is None or not quantizer.is_initialized:
        raise VidquantError("GPTQ needs a layer whose weight quantizer has its grid locked")
    groups = _groups(layer)  # type: ignore[arg-type]
    original = weight.detach().float()
    matrix = original.reshape(groups, original.shape[0] // groups, -1)
    column_quant = _column_quantizer(quantizer, original, groups)
    rounded = gptq_codes(matrix, stats.hessian, column_quant, damp)
    nearest = quantizer(original).reshape(matrix.shape)
    ratio = _output_error(matrix - rounded, stats.hessian) / max(_output_error(matrix - nearest, stats.hessian), 1e-30)
    with torch.no_grad():
        if bias_correction and getattr(layer, "bias", None) is not None:
            mean = (stats.total / stats.count).float()  # (groups, K)
            shift = ((matrix - rounded) * mean[:, None, :]).sum(2).reshape(-1)
            layer.bias.add_(shift)  # type: ignore[attr-defined]
        weight.copy_(rounded.reshape(original.shape))
    return ratio


def _output_error(delta: torch.Tensor, hessian: torch.Tensor) -> float:
    d = delta.double()
    return float(torch.einsum("grk,gkl,grl->", d, hessian, d))


def gptq_sequential(
    model: nn.Module, batches: Sequence[Any], forward: Forward = default_forward, damp: float = 0.01,
    bias_correction: bool = True, skip: Optional[Callable[[str, QuantLayer], bool]] = None,
) -> dict[str, float]:
    """GPTQ every weight-quantized Conv2d / Linear of ``model`` in forward order.

    ``forward(model, batch)`` runs one calibration batch as deployment would (dynamic activation
    ranges are per call, so batch as deployment batches). Each layer sees inputs of the layers
    already done.
    Returns each layer's output-error ratio (GPTQ / round-to-nearest) on its calibration inputs."""
    ratios: dict[str, float] = {}
    for name, layer in _in_forward_order(model, batches[0], forward):
        if layer.weight_quant is None or (skip is not None and skip(name, layer)):
            continue
        if not layer.weight_quant.is_initialized:
            layer.weight_quant.initialize_from(layer.weight.detach())  # type: ignore[attr-defined]
        ratios[name] = gptq_layer(layer, collect_input_stats(model, layer, batches, forward), damp, bias_correction)
    return ratios


def _in_forward_order(model: nn.Module, batch: Any, forward: Forward) -> list[tuple[str, QuantLayer]]:
    """Quantized layers in the order one calibration call reaches them (first call only)."""
    layers = [(name, layer) for name, layer in quant_layers(model) if isinstance(layer, (nn.Conv2d, nn.Linear))]
    order: list[str] = []
    handles = [layer.register_forward_pre_hook(_recorder(name, order)) for name, layer in layers]  # type: ignore[attr-defined]
    try:
        with torch.no_grad():
            forward(model, batch)
    finally:
        for handle in handles:
            handle.remove()
    by_name = dict(layers)
    seen = list(dict.fromkeys(order))
    return [(name, by_name[name]) for name in seen]


def _recorder(name: str, order: list[str]) -> Callable:
    def hook(module: nn.Module, args: tuple) -> None:
        order.append(name)
    return hook
