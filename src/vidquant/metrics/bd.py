"""Bjontegaard deltas: BD-rate and BD-PSNR with pchip (DCVC's script) or cubic fitting (VCEG-M33).

Both integrate exactly over the overlap of the two curves: rate is log10 and interpolated as
a function of quality (BD-rate), or quality as a function of log10 rate (BD-PSNR).
Bad curves fail loudly: fewer than 4 points, rate or quality not strictly increasing together,
or no overlap raise ``VidquantError``; a thin overlap (< 75 %) is returned with a flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy.interpolate import PchipInterpolator

from vidquant.errors import VidquantError

METHODS = ("pchip", "cubic")
MIN_POINTS = 4
MIN_OVERLAP = 0.75


@dataclass(frozen=True)
class RDCurve:
    """Rate-distortion points of one codec on one sequence (rate in bpp or kbps, quality in dB)."""

    rates: tuple[float, ...]
    quality: tuple[float, ...]
    name: str = "curve"

    @classmethod
    def of(cls, rates: Sequence[float], quality: Sequence[float], name: str = "curve") -> "RDCurve":
        return cls(tuple(float(r) for r in rates), tuple(float(q) for q in quality), name)

    def checked(self) -> tuple[np.ndarray, np.ndarray]:
        """Points sorted by rate, after checking count, positivity and monotonicity."""
        rates, quality = np.asarray(self.rates, float), np.asarray(self.quality, float)
        if rates.shape != quality.shape:
            raise VidquantError(f"{self.name}: {rates.size} rates but {quality.size} quality values")
        if rates.size < MIN_POINTS:
            raise VidquantError(f"{self.name}: BD needs at least {MIN_POINTS} rate points, got {rates.size}")
        if not np.all(np.isfinite(rates) & np.isfinite(quality)) or np.any(rates <= 0):
            raise VidquantError(f"{self.name}: rates must be positive and all values finite")
        order = np.argsort(rates, kind="stable")
        rates, quality = rates[order], quality[order]
        for i in range(1, rates.size):
            if rates[i] <= rates[i - 1] or quality[i] <= quality[i - 1]:
                raise VidquantError(
                    f"{self.name}: not monotonic: rate {rates[i - 1]:g} -> {rates[i]:g} gives "
                    f"quality {quality[i - 1]:g} -> {quality[i]:g} (both must increase)"
                )
        return rates, quality


@dataclass(frozen=True)
class BDResult:
    """BD-rate (%, negative = test saves rate) and BD-PSNR (dB, positive = test is better)."""

    bd_rate: float
    bd_psnr: float
    method: str
    quality_overlap: float
    rate_overlap: float
    flags: tuple[str, ...] = ()


def _overlap(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """(low, high, fraction of the union) of the common interval of two sorted arrays."""
    low, high = max(a[0], b[0]), min(a[-1], b[-1])
    union = max(a[-1], b[-1]) - min(a[0], b[0])
    return low, high, max(high - low, 0.0) / union


def _integral(x: np.ndarray, y: np.ndarray, low: float, high: float, method: str) -> float:
    if method == "pchip":
        return float(PchipInterpolator(x, y).integrate(low, high))
    if method == "cubic":
        antiderivative = np.polyint(np.polyfit(x, y, 3))
        return float(np.polyval(antiderivative, high) - np.polyval(antiderivative, low))
    raise VidquantError(f"unknown BD interpolation {method!r} (valid: {', '.join(METHODS)})")


def _mean_delta(xa, ya, xt, yt, method: str, axis: str) -> tuple[float, float]:
    """Average of (test - anchor) over the overlap of x, and the overlap fraction."""
    low, high, fraction = _overlap(xa, xt)
    if high <= low:
        raise VidquantError(
            f"curves do not overlap in {axis}: anchor {xa[0]:g}..{xa[-1]:g}, test {xt[0]:g}..{xt[-1]:g}"
        )
    delta = _integral(xt, yt, low, high, method) - _integral(xa, ya, low, high, method)
    return delta / (high - low), fraction


def bd_rate(anchor: RDCurve, test: RDCurve, method: str = "pchip") -> float:
    """Average rate difference of ``test`` vs ``anchor`` at equal quality, in percent."""
    return bjontegaard(anchor, test, method).bd_rate


def bd_psnr(anchor: RDCurve, test: RDCurve, method: str = "pchip") -> float:
    """Average quality difference of ``test`` vs ``anchor`` at equal rate, in dB."""
    return bjontegaard(anchor, test, method).bd_psnr


def bjontegaard(anchor: RDCurve, test: RDCurve, method: str = "pchip") -> BDResult:
    """Both Bjontegaard deltas, with overlap fractions and flags for thin overlaps."""
    ra, qa = anchor.checked()
    rt, qt = test.checked()
    la, lt = np.log10(ra), np.log10(rt)
    log_rate_delta, quality_overlap = _mean_delta(qa, la, qt, lt, method, "quality")
    psnr_delta, rate_overlap = _mean_delta(la, qa, lt, qt, method, "rate")
    flags = tuple(
        f"thin {axis} overlap: {fraction:.0%} of the joint range (< {MIN_OVERLAP:.0%})"
        for axis, fraction in (("quality", quality_overlap), ("rate", rate_overlap))
        if fraction < MIN_OVERLAP
    )
    bd_rate_percent = (10.0**log_rate_delta - 1.0) * 100.0
    return BDResult(float(bd_rate_percent), float(psnr_delta), method, float(quality_overlap), float(rate_overlap), flags)


@dataclass(frozen=True)
class SequenceBD:
    """One sequence's deltas, or the reason they could not be computed."""

    group: str
    sequence: str
    result: BDResult | None = None
    error: str | None = None


@dataclass(frozen=True)
class BDAverage:
    """Mean BD-rate / BD-PSNR over the sequences that could be computed (``skipped`` could not)."""

    name: str
    bd_rate: float
    bd_psnr: float
    count: int
    skipped: int


@dataclass(frozen=True)
class BDTable:
    """Per sequence, per class (mean of its sequences) and overall (mean of class means)."""

    method: str
    sequences: tuple[SequenceBD, ...]
    classes: tuple[BDAverage, ...]
    overall: BDAverage | None
    unmatched: tuple[str, ...] = ()


Curves = Mapping[str, Mapping[str, RDCurve]]


def _average(name: str, rows: Sequence[tuple[float, float]], skipped: int) -> BDAverage | None:
    if not rows:
        return None
    rates, psnrs = zip(*rows)
    return BDAverage(name, float(np.mean(rates)), float(np.mean(psnrs)), len(rows), skipped)


def _sequence_bd(group: str, name: str, anchor: RDCurve, test: RDCurve, method: str) -> SequenceBD:
    try:
        return SequenceBD(group, name, result=bjontegaard(anchor, test, method))
    except VidquantError as error:
        return SequenceBD(group, name, error=str(error))


def bd_table(anchor: Curves, test: Curves, method: str = "pchip") -> BDTable:
    """Deltas of ``test`` against ``anchor`` for every {class: {sequence: curve}} present in both."""
    if method not in METHODS:
        raise VidquantError(f"unknown BD interpolation {method!r} (valid: {', '.join(METHODS)})")
    rows, classes, unmatched = [], [], []
    for group, sequences in anchor.items():
        found = [
            _sequence_bd(group, name, curve, test[group][name], method)
            for name, curve in sequences.items()
            if name in test.get(group, {})
        ]
        unmatched += [f"{group}/{name}" for name in sequences if name not in test.get(group, {})]
        rows += found
        done = [(s.result.bd_rate, s.result.bd_psnr) for s in found if s.result]
        average = _average(group, done, len(found) - len(done))
        classes += [average] if average else []
    overall = _average("overall", [(c.bd_rate, c.bd_psnr) for c in classes], 0)
    unmatched += [f"{g}/{n}" for g, seqs in test.items() for n in seqs if n not in anchor.get(g, {})]
    return BDTable(method, tuple(rows), tuple(classes), overall, tuple(unmatched))
