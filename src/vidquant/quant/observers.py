"""Observers: statistics of calibration data that choose a step size and zero point.

Every observer sees data grouped as a 2-D tensor [steps, elements per step] (the quantizer
does the grouping), and returns one step size and zero point per row.
"""

from __future__ import annotations

import math

import torch

from vidquant.quant.primitives import scale_from_range
from vidquant.quant.spec import QuantSpec
from vidquant.registry import Registry

Range = tuple[torch.Tensor, torch.Tensor]

OBSERVERS: Registry[type["Observer"]] = Registry("observer")

_MAX_SAMPLES_PER_ROW = 1 << 16  # enough for percentile / MSE statistics, bounded memory
_MAX_SAMPLE_BATCHES = 8
_CHUNK_ELEMENTS = 1 << 16  # elementwise MSE work in blocks of rows this large (fits in cache)


class Observer:
    """Accumulates per-row statistics over batches; ``compute`` turns them into (scale, zero point)."""

    def __init__(self, spec: QuantSpec) -> None:
        self.spec = spec
        self.batches = 0

    def observe(self, rows: torch.Tensor) -> None:
        self._update(rows.detach().float())
        self.batches += 1

    def _update(self, rows: torch.Tensor) -> None:
        raise NotImplementedError

    def range(self) -> Range:
        raise NotImplementedError

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.batches == 0:
            raise RuntimeError("observer saw no data")
        low, high = self.range()
        return scale_from_range(low, high, self.spec.qmin, self.spec.qmax, self.spec.symmetric)


@OBSERVERS.decorator("minmax")
class MinMaxObserver(Observer):
    """Extremes over all batches."""

    def _update(self, rows: torch.Tensor) -> None:
        low, high = rows.amin(dim=1), rows.amax(dim=1)
        if self.batches:
            low, high = torch.minimum(self.low, low), torch.maximum(self.high, high)
        self.low, self.high = low, high

    def range(self) -> Range:
        return self.low, self.high


@OBSERVERS.decorator("ema_minmax")
class MovingAverageMinMaxObserver(Observer):
    """Exponential moving average of per-batch extremes (robust to one odd batch)."""

    def _update(self, rows: torch.Tensor) -> None:
        low, high = rows.amin(dim=1), rows.amax(dim=1)
        if self.batches:
            m = self.spec.ema_momentum
            low, high = (1 - m) * self.low + m * low, (1 - m) * self.high + m * high
        self.low, self.high = low, high

    def range(self) -> Range:
        return self.low, self.high


class _SampleKeeper(Observer):
    """Keeps a bounded sample of each row for statistics that need the values themselves."""

    def __init__(self, spec: QuantSpec) -> None:
        super().__init__(spec)
        self.samples: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(0)

    def _update(self, rows: torch.Tensor) -> None:
        if rows.shape[1] > _MAX_SAMPLES_PER_ROW:
            index = torch.randperm(rows.shape[1], generator=self.generator)[:_MAX_SAMPLES_PER_ROW]
            rows = rows[:, index]
        last = self.samples[-1] if self.samples else None
        if last is not None and last.shape == rows.shape and torch.equal(last, rows):
            rows = last  # a weight seen again: one copy, kept once (statistics still count it)
        self.samples.append(rows)
        if len(self.samples) > _MAX_SAMPLE_BATCHES:
            self.samples.pop(0)

    def values(self) -> torch.Tensor:
        return torch.cat(self.samples, dim=1)

    def per_distinct_sample(self, fn) -> torch.Tensor:
        """``fn(sample, out)`` writes an elementwise function of each distinct kept sample into
        ``out``; returns them side by side in sample order, equal to the function of
        ``values()``, with repeated samples (a weight seen on every batch) computed once."""
        total = sum(sample.shape[1] for sample in self.samples)
        result = torch.empty(self.samples[0].shape[0], total)
        done: dict[int, torch.Tensor] = {}
        offset = 0
        for sample in self.samples:
            part = result[:, offset:offset + sample.shape[1]]
            if id(sample) in done:
                part.copy_(done[id(sample)])
            else:
                fn(sample, part)
                done[id(sample)] = part
            offset += sample.shape[1]
        return result


@OBSERVERS.decorator("percentile")
class PercentileObserver(_SampleKeeper):
    """Clips the tails: the range between the (100-p)th and p-th percentiles."""

    def range(self) -> Range:
        values = self.values()
        count = values.shape[1]
        upper = min(count, max(1, math.ceil(count * self.spec.percentile / 100.0)))
        lower = max(1, count + 1 - upper)
        low = values.kthvalue(lower, dim=1).values
        high = values.kthvalue(upper, dim=1).values
        return low, high


@OBSERVERS.decorator("mse")
class MseObserver(_SampleKeeper):
    """Searches the clipping range that minimizes the quantization mean squared error per row."""

    ratios = torch.linspace(0.2, 1.0, 81)

    def range(self) -> Range:
        values = self.values()
        return values.amin(dim=1), values.amax(dim=1)

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        low, high = self.range()
        best_error = torch.full((low.shape[0],), float("inf"))
        best_scale, best_zero = scale_from_range(low, high, self.spec.qmin, self.spec.qmax, self.spec.symmetric)
        for ratio in self.ratios:
            scale, zero = scale_from_range(
                low * ratio, high * ratio, self.spec.qmin, self.spec.qmax, self.spec.symmetric
            )
            error = self.per_distinct_sample(
                lambda values, out: _squared_error(values, scale, zero, self.spec, out)).mean(dim=1)
            better = error < best_error
            best_error = torch.where(better, error, best_error)
            best_scale = torch.where(better, scale, best_scale)
            best_zero = torch.where(better, zero, best_zero)
        return best_scale, best_zero


@OBSERVERS.decorator("lsq")
class LsqInitObserver(Observer):
    """LSQ's initial step 2 * mean(|x|) / sqrt(Qp), averaged over batches."""

    def _update(self, rows: torch.Tensor) -> None:
        mean_abs = rows.abs().mean(dim=1)
        self.mean_abs = mean_abs if not self.batches else self.mean_abs + (mean_abs - self.mean_abs) / (
            self.batches + 1
        )

    def range(self) -> Range:
        return -self.mean_abs, self.mean_abs

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        tiny = torch.finfo(torch.float32).tiny
        scale = torch.clamp(2 * self.mean_abs / math.sqrt(self.spec.qmax), min=tiny)
        return scale, torch.zeros_like(scale)


def _squared_error(
    values: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, spec: QuantSpec, out: torch.Tensor
) -> torch.Tensor:
    """(fake_quantize_affine(values) - values)^2, elementwise, written into ``out`` with the same
    float operations in place (no autograd: round instead of its straight-through form, which
    equals it)."""
    s, z = scale[:, None], zero[:, None]
    step = max(1, _CHUNK_ELEMENTS // max(values.shape[1], 1))  # rows per chunk: the chain stays in cache
    for start in range(0, values.shape[0], step):
        rows = slice(start, start + step)
        error = torch.mul(values[rows], s[rows].reciprocal(), out=out[rows]).round_().add_(z[rows])
        error.clamp_(spec.qmin, spec.qmax).sub_(z[rows]).mul_(s[rows]).sub_(values[rows]).pow_(2)
    return out


def make_observer(spec: QuantSpec) -> Observer:
    return OBSERVERS.get(spec.observer)(spec)
