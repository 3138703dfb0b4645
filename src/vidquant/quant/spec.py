"""QuantSpec: everything one quantizer needs to know, as plain frozen data; LayerSpecs: one per tensor of a layer."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Optional

from vidquant.errors import VidquantError
from vidquant.quant.fields import check_field, check_object
from vidquant.quant.granularity import (
    Granularity,
    PerRow,
    PerTensor,
    describe,
    granularity_from_dict,
    granularity_to_dict,
)

LEARN_MODES = ("none", "step", "step+offset")  # static, LSQ, LSQ+
OBSERVERS = ("lsq", "minmax", "ema_minmax", "percentile", "mse")
FLOAT_DTYPES = ("float16", "bfloat16")


@dataclass(frozen=True)
class QuantSpec:
    """How one tensor is quantized.

    ``learn``: "none" keeps the observed step fixed, "step" is LSQ, "step+offset" is LSQ+.
    ``observer``: how the first step size is chosen from data ("lsq" = 2*mean|x|/sqrt(Qp)).
    ``dynamic``: the range is measured on every call (activations quantized at run time).
    ``float_dtype``: cast to a low-precision float instead of integer quantization.
    ``step_dtype``: the float type the step sizes are stored in (None: float32). Steps are kept
    float32 while they learn and rounded to this type when the model is saved (``snap_steps``);
    per-channel steps of small channels (a depthwise 3x3 has 9 weights per step) otherwise cost
    a third of an int8 layer's bytes.
    """

    bits: int = 8
    signed: bool = True
    symmetric: bool = True
    granularity: Granularity = field(default_factory=PerTensor)
    learn: str = "none"
    observer: str = "minmax"
    dynamic: bool = False
    float_dtype: str | None = None
    step_dtype: str | None = None
    percentile: float = 99.99
    ema_momentum: float = 0.1

    def __post_init__(self) -> None:
        for name, kind in _FIELD_TYPES.items():
            check_field("quantizer", name, getattr(self, name), kind, optional=name in _OPTIONAL_FIELDS)
        if not isinstance(self.granularity, Granularity):  # the union of the granularity types
            raise VidquantError(f"quantizer: granularity must be a granularity object, got {self.granularity!r}")
        if not 2 <= self.bits <= 16:
            raise VidquantError(f"bits must be between 2 and 16, got {self.bits}")
        _check_choice("learn", self.learn, LEARN_MODES)
        _check_choice("observer", self.observer, OBSERVERS)
        if self.float_dtype is not None:
            _check_choice("float_dtype", self.float_dtype, FLOAT_DTYPES)
        if self.step_dtype is not None:
            _check_choice("step_dtype", self.step_dtype, FLOAT_DTYPES)
            if self.is_float or self.dynamic:
                raise VidquantError("step_dtype needs a quantizer with stored integer steps (not float_dtype or dynamic)")
        if self.learn == "step+offset" and self.symmetric:
            raise VidquantError("learn='step+offset' (LSQ+) needs symmetric=False")
        if self.dynamic and self.learn != "none":
            raise VidquantError("a dynamic quantizer has no stored step to learn")
        if isinstance(self.granularity, PerRow) and not self.dynamic:
            raise VidquantError("per-row ranges are measured at run time: granularity per_row needs dynamic=True")
        if not 50.0 < self.percentile <= 100.0:
            raise VidquantError(f"percentile must be in (50, 100], got {self.percentile}")

    @property
    def is_float(self) -> bool:
        return self.float_dtype is not None

    @property
    def qmin(self) -> int:
        return -(2 ** (self.bits - 1)) if self.signed else 0

    @property
    def qmax(self) -> int:
        return 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1

    @property
    def storage_bits(self) -> int:
        """Bits one value occupies in a file: float16 -> 16, int4 -> 4, int8 -> 8."""
        return 16 if self.is_float else self.bits

    def label(self) -> str:
        """Compact description for report tables, e.g. 'int4 sym block128 lsq'."""
        if self.is_float:
            return self.float_dtype or ""
        kind = "sym" if self.symmetric else "asym"
        method = {"none": self.observer, "step": "lsq", "step+offset": "lsq+"}[self.learn]
        if self.dynamic:
            method = "dynamic"
        prefix = "int" if self.signed else "uint"
        return f"{prefix}{self.bits} {kind} {describe(self.granularity)} {method}"

    def with_bits(self, bits: int) -> "QuantSpec":
        return replace(self, bits=bits)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["granularity"] = granularity_to_dict(self.granularity)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "QuantSpec":
        check_object("a quantizer spec", data, '{"bits": 8, "granularity": {"kind": "per_channel"}}')
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise VidquantError(f"unknown quantizer field(s): {', '.join(sorted(unknown))}")
        fields = dict(data)
        if "granularity" in fields:
            fields["granularity"] = granularity_from_dict(fields["granularity"])
        return cls(**fields)


_FIELD_TYPES: dict[str, type] = {
    "bits": int, "signed": bool, "symmetric": bool, "learn": str, "observer": str, "dynamic": bool,
    "float_dtype": str, "step_dtype": str, "percentile": float, "ema_momentum": float,
}
_OPTIONAL_FIELDS = ("float_dtype", "step_dtype")


@dataclass(frozen=True)
class LayerSpecs:
    """The quantizers one layer gets (None: that tensor stays float)."""

    weight: Optional[QuantSpec] = None
    input: Optional[QuantSpec] = None
    output: Optional[QuantSpec] = None


def _check_choice(name: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise VidquantError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
