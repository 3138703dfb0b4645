"""Rate-distortion figure: one panel per sequence, one line per codec (matplotlib, no pyplot state)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from matplotlib.figure import Figure


@dataclass(frozen=True)
class RDSeries:
    label: str
    rates: Sequence[float]
    quality: Sequence[float]


@dataclass(frozen=True)
class RDPanel:
    title: str
    series: Sequence[RDSeries]


def save_rd_plot(panels: Sequence[RDPanel], path: str | Path, xlabel: str = "bpp",
                 ylabel: str = "PSNR (dB)") -> Path:
    """Write a grid of RD panels (points joined in rate order) to ``path`` (format from suffix)."""
    columns = min(3, max(1, len(panels)))
    rows = max(1, math.ceil(len(panels) / columns))
    figure = Figure(figsize=(4.5 * columns, 3.5 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, panel in zip(axes, panels):
        for series in panel.series:
            points = sorted(zip(series.rates, series.quality))
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=series.label)
        ax.set_title(panel.title, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    figure.savefig(path, dpi=100)
    return Path(path)
