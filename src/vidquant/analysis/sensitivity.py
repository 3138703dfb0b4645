"""Module-wise quantization sensitivity: quantize one named module group, keep the rest float,
measure a task metric. Q-SCI's analysis (FEM alone at 4 bits costs most) is one use of it.

The model and the metric are callables, so this knows nothing about any model family.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence

import torch.nn as nn
from tqdm import tqdm

from vidquant.errors import VidquantError
from vidquant.io.text_table import format_table
from vidquant.quant.api import quant_layers, quantize
from vidquant.quant.recipes import RecipeLike, resolve_recipe
from vidquant.registry import closest_names


@dataclass
class SensitivityRow:
    group: str
    layers: int
    score: float
    drop: float  # baseline - score: positive means quantizing this group hurts


@dataclass
class Sensitivity:
    recipe: str
    baseline: float
    rows: list[SensitivityRow]

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self, unit: str = "") -> str:
        cells = [(row.group, str(row.layers), f"{row.score:.2f}", f"{row.drop:+.2f}") for row in self.rows]
        header = ("module group", "layers", f"score{unit}", f"drop{unit}")
        return f"recipe {self.recipe}; float baseline {self.baseline:.2f}{unit}\n" + format_table(header, cells)


def group_members(model: nn.Module, group: str) -> list[str]:
    """Names of the module ``group`` and everything below it; an unknown group is an error."""
    names = [name for name, _ in model.named_modules() if name == group or name.startswith(group + ".")]
    if not names:
        near = closest_names(group, [name for name, _ in model.named_modules() if name])
        raise VidquantError(f"module group {group!r} matches no module; closest names: {', '.join(near) or '-'}")
    return names


def module_sensitivity(
    build: Callable[[], nn.Module],
    groups: Sequence[str],
    recipe: RecipeLike,
    metric: Callable[[nn.Module], float],
    calibrate: Optional[Callable[[nn.Module], None]] = None,
    progress: bool = True,
) -> Sensitivity:
    """For each group: a fresh float model from ``build``, only that group quantized with
    ``recipe``, optionally ``calibrate``d (else quantizers start from the metric's first
    inputs), scored by ``metric`` (higher is better) against the all-float baseline."""
    resolved = resolve_recipe(recipe)
    template = build()
    for group in groups:  # fail before any scoring on a misspelt group
        group_members(template, group)
    baseline = metric(template)
    rows = []
    for group in tqdm(groups, desc="sensitivity", disable=not progress):
        model = build()
        quantize(model, resolved, include=group_members(model, group))
        if calibrate is not None:
            calibrate(model)
        score = metric(model)
        rows.append(SensitivityRow(group, sum(1 for _ in quant_layers(model)), score, baseline - score))
    return Sensitivity(resolved.name, baseline, rows)
