"""The codec test harness's result JSON (DCVC ``test_video.py`` layout), read and written with checks.

Layout: ``{class: {sequence: {rate_key: RatePoint fields}}}``. ``rate_key`` is the rate index as
three digits ("000", "001", ...) or the q index. Each rate point needs ``ave_all_frame_bpp`` and
``ave_all_frame_psnr`` (6:1:1 YUV PSNR for YUV sources, RGB PSNR for PNG sources); the other
fields are optional and unknown keys are kept in ``extra``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from vidquant.errors import VidquantError
from vidquant.io.jsonfile import read_json

REQUIRED_FIELDS = ("ave_all_frame_bpp", "ave_all_frame_psnr")


@dataclass(frozen=True)
class RatePoint:
    """One sequence coded at one rate: averages over all frames (bpp from real bitstream bytes)."""

    ave_all_frame_bpp: float
    ave_all_frame_psnr: float
    ave_all_frame_psnr_y: float | None = None
    ave_all_frame_psnr_u: float | None = None
    ave_all_frame_psnr_v: float | None = None
    ave_all_frame_msssim: float | None = None
    ave_all_frame_msssim_y: float | None = None
    ave_i_frame_bpp: float | None = None
    ave_i_frame_psnr: float | None = None
    ave_p_frame_bpp: float | None = None
    ave_p_frame_psnr: float | None = None
    frame_pixel_num: int | None = None
    i_frame_num: int | None = None
    p_frame_num: int | None = None
    qp: int | None = None
    test_time: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def value(self, metric: str) -> float:
        """``metric`` is a field name without the ``ave_all_frame_`` prefix (psnr, psnr_y, msssim, ...)."""
        result = getattr(self, f"ave_all_frame_{metric}", None)
        if result is None:
            raise VidquantError(f"rate point has no 'ave_all_frame_{metric}'")
        return float(result)

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "extra" and v is not None}
        return {**data, **self.extra}


_KNOWN = tuple(f.name for f in fields(RatePoint) if f.name != "extra")


def _rate_point(raw: Any, where: str) -> RatePoint:
    if not isinstance(raw, dict):
        raise VidquantError(f"{where}: expected an object of rate-point fields")
    for name in REQUIRED_FIELDS:
        if name not in raw:
            raise VidquantError(f"{where}: missing field {name!r}")
    for name in (n for n in _KNOWN if raw.get(n) is not None):
        if not isinstance(raw[name], (int, float)) or isinstance(raw[name], bool) or not math.isfinite(raw[name]):
            raise VidquantError(f"{where}: field {name!r} must be a finite number, got {raw[name]!r}")
    known = {k: raw[k] for k in _KNOWN if k in raw}
    return RatePoint(**known, extra={k: v for k, v in raw.items() if k not in _KNOWN})


@dataclass(frozen=True)
class CodecResults:
    """All rate points of one codec: ``points[class][sequence][rate_key]``."""

    points: dict[str, dict[str, dict[str, RatePoint]]]
    source: str = "<memory>"

    def curve(self, group: str, sequence: str, metric: str = "psnr") -> tuple[list[float], list[float]]:
        """(bpp list, quality list) of one sequence in rate-key order."""
        points = self.points[group][sequence]
        where = f"{self.source}: {group}/{sequence}"
        try:
            return [p.ave_all_frame_bpp for p in points.values()], [p.value(metric) for p in points.values()]
        except VidquantError as error:
            raise VidquantError(f"{where}: {error}") from None

    def to_json(self) -> dict[str, Any]:
        return {g: {s: {k: p.to_json() for k, p in rp.items()} for s, rp in seqs.items()}
                for g, seqs in self.points.items()}


def _mapping(raw: Any, where: str, what: str) -> dict:
    if not isinstance(raw, dict) or not raw:
        raise VidquantError(f"{where}: expected a non-empty object of {what}")
    return raw


def parse_results(raw: Any, source: str = "<memory>") -> CodecResults:
    """Validate a decoded result JSON; errors name the class/sequence/rate and the missing field."""
    points = {
        group: {
            seq: {
                key: _rate_point(point, f"{source}: {group}/{seq}/{key}")
                for key, point in _mapping(rates, f"{source}: {group}/{seq}", "rate points").items()
            }
            for seq, rates in _mapping(seqs, f"{source}: {group}", "sequences").items()
        }
        for group, seqs in _mapping(raw, source, "classes").items()
    }
    return CodecResults(points, source)


def load_results(path: str | Path) -> CodecResults:
    return parse_results(read_json(path), str(path))


def save_results(results: CodecResults, path: str | Path) -> None:
    Path(path).write_text(json.dumps(results.to_json(), indent=2) + "\n")
