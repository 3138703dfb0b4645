"""EfficientSCI network presets as data (widths, depth, Q-SCI switches)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from vidquant.errors import VidquantError


@dataclass(frozen=True)
class SCIConfig:
    """Shape of an EfficientSCI network; the Q-SCI additions are switches (off = plain EfficientSCI).

    ``width`` is EfficientSCI's ``in_ch``: FEM goes 1 -> width -> 2*width -> 4*width channels,
    the ResDNet blocks run at 4*width channels on a half-resolution grid, VRM goes back to 1.
    """

    width: int = 32
    units: int = 8
    groups: int = 2
    heads: int = 4
    frames: int = 8
    fem_shortcut: bool = False
    vrm_shortcut: bool = False
    qk_shift: bool = False

    def __post_init__(self) -> None:
        dim = 4 * self.width
        if min(self.width, self.units, self.groups, self.heads, self.frames) < 1:
            raise VidquantError(f"SCI config values must be positive: {self}")
        if dim % self.groups or (dim // self.groups // 2) % self.heads:
            raise VidquantError(
                f"4*width={dim} must split into {self.groups} groups whose half divides into {self.heads} heads"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "SCIConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise VidquantError(f"unknown SCI config keys {sorted(unknown)}; valid: {sorted(known)}")
        return cls(**values)


# EfficientSCI-S as used by Q-SCI (in_ch=32, units=8, group_num=2): 3.78 M parameters.
# efficientsci-cpu: a narrow, shallow variant that trains on one CPU core in about an hour.
PRESETS: dict[str, SCIConfig] = {
    "efficientsci-s": SCIConfig(width=32, units=8, groups=2),
    "efficientsci-cpu": SCIConfig(width=16, units=2, groups=2),
}


def get_preset(name: str) -> SCIConfig:
    """The preset ``name``; unknown names fail in one line listing the valid ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise VidquantError(f"unknown SCI preset {name!r}; valid: {', '.join(PRESETS)}") from None
