"""How many step sizes a tensor shares: a value, not a string flag (torchao's habit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from vidquant.errors import VidquantError
from vidquant.quant.fields import check_field, check_object


@dataclass(frozen=True)
class PerTensor:
    """One step size for the whole tensor."""

    kind: str = "per_tensor"


@dataclass(frozen=True)
class PerChannel:
    """One step size per slice along ``axis``; ``None`` means the module's output-channel axis."""

    axis: int | None = None
    kind: str = "per_channel"

    def __post_init__(self) -> None:
        check_field("granularity per_channel", "axis", self.axis, int, optional=True)


@dataclass(frozen=True)
class PerBlock:
    """One step size per run of ``block_size`` elements along the input dimension, per output channel."""

    block_size: int = 128
    kind: str = "per_block"

    def __post_init__(self) -> None:
        check_field("granularity per_block", "block_size", self.block_size, int)
        if self.block_size < 1:
            raise VidquantError(f"block size must be positive, got {self.block_size}")


@dataclass(frozen=True)
class PerRow:
    """Dynamic inputs only: one run-time range per row of the layer's integer GEMM, i.e. per slice
    over exactly the axes its dot product sums over, so each step still factors out of the int32
    accumulator: per pixel for 1x1 and transposed convolutions (a sum over channels), per channel
    for depthwise ones (a sum over one channel's window), per row for Linear / MatMul, per image
    for every other convolution. The layer names the axes (``QuantLayer.input_row_dims``)."""

    kind: str = "per_row"


Granularity = Union[PerTensor, PerChannel, PerBlock, PerRow]


def granularity_to_dict(granularity: Granularity) -> dict:
    data = {"kind": granularity.kind}
    if isinstance(granularity, PerChannel) and granularity.axis is not None:
        data["axis"] = granularity.axis
    if isinstance(granularity, PerBlock):
        data["block_size"] = granularity.block_size
    return data


def granularity_from_dict(data: dict) -> Granularity:
    check_object("granularity", data, '{"kind": "per_channel"}')
    kinds = {"per_tensor": PerTensor, "per_channel": PerChannel, "per_block": PerBlock, "per_row": PerRow}
    kind = data.get("kind", "per_tensor")
    if not isinstance(kind, str) or kind not in kinds:
        raise VidquantError(f"unknown granularity {kind!r}; valid: {', '.join(kinds)}")
    fields = {key: value for key, value in data.items() if key != "kind"}
    unknown = set(fields) - set(kinds[kind].__dataclass_fields__)
    if unknown:
        raise VidquantError(f"granularity {kind}: unknown field(s) {', '.join(sorted(unknown))}")
    return kinds[kind](**fields)


def describe(granularity: Granularity) -> str:
    """Short label for reports: 'tensor', 'channel', 'block128', 'row'."""
    if isinstance(granularity, PerBlock):
        return f"block{granularity.block_size}"
    if isinstance(granularity, PerRow):
        return "row"
    return "channel" if isinstance(granularity, PerChannel) else "tensor"
