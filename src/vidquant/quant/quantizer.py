"""FakeQuantizer: one tensor's quantizer, composed from a QuantSpec (step, offset, bits, observer).

The step sizes live in the state dict together with an ``initialized`` flag, so a loaded
quantizer never re-initializes. Arithmetic always runs in float32, autocast or not.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable, Sequence

import torch
import torch.nn as nn

from vidquant.errors import VidquantError
from vidquant.quant.granularity import PerBlock, PerChannel, PerRow, PerTensor
from vidquant.quant.observers import Observer, make_observer
from vidquant.quant.primitives import (
    dequantize_int,
    dynamic_fake_quantize,
    fake_quantize_affine,
    lsq_grad_scale,
    lsq_plus_quantize,
    lsq_quantize,
    quantize_to_int,
    scale_from_range,
)
from vidquant.quant.spec import QuantSpec


class NonFiniteError(VidquantError):
    """NaN or Inf in data a quantizer sees (calibration names the first layer that made it)."""

# A quantizer whose calibration saw only zeros gets the step of this symmetric range (see
# FakeQuantizer._with_fallback); DEGENERATE_STEP is the step the observers return for a zero range.
FALLBACK_RANGE = 1.0
DEGENERATE_STEP = torch.finfo(torch.float32).tiny

_FLOAT_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


class FakeQuantizer(nn.Module):
    """Quantize-dequantize one tensor according to ``spec``.

    ``role`` is "weight" (fixed shape, known now) or "activation" (batch first, channel axis 1).
    ``channel_axis`` is the output-channel axis of a weight. Per-block steps run along the
    flattened remaining axes (the GEMM view of a convolution: [out, in * kh * kw]).
    ``row_dims``: for per-row dynamic ranges, the axes one range spans (given by the layer).
    """

    def __init__(
        self,
        spec: QuantSpec,
        *,
        role: str,
        shape: Sequence[int] | None = None,
        channels: int = 1,
        channel_axis: int = 1,
        row_dims: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(spec.granularity, PerRow) and (role != "activation" or not row_dims):
            raise VidquantError("per-row ranges apply to a layer's inputs only (the layer names the axes its "
                                "dot product sums over); use them in a layers-scope recipe's 'input' spec")
        self.row_dims = tuple(row_dims or ())
        self.spec = spec
        self.role = role
        self.channel_axis = channel_axis
        self.layer_name = ""
        self.calibrating = False
        self.check_finite = True
        self.observer: Observer | None = None
        # Installed by vidquant.export while tracing: emits the ONNX Q/DQ form of this quantizer.
        self.export_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
        if spec.is_float:
            return
        steps = 1 if spec.dynamic else self._count_steps(shape, channels)
        self._make_state(steps)

    # ---- state -------------------------------------------------------------------------
    def _count_steps(self, shape: Sequence[int] | None, channels: int) -> int:
        granularity = self.spec.granularity
        if isinstance(granularity, PerTensor):
            return 1
        if isinstance(granularity, PerBlock):
            if self.role != "weight" or shape is None:
                raise VidquantError("per-block quantization applies to weights only")
            return self._to_rows(torch.empty(shape, device="meta")).shape[0]
        if self.role == "weight":
            assert shape is not None
            return shape[self._axis(len(shape))]
        return channels

    def _make_state(self, steps: int) -> None:
        ones = torch.ones(steps)
        if self.spec.learn == "none":
            self.register_buffer("scale", ones)
            self.register_buffer("zero_point", torch.zeros(steps))
        else:
            self.scale = nn.Parameter(ones)
        if self.spec.learn == "step+offset":
            self.offset = nn.Parameter(torch.zeros(steps))
        self.register_buffer("initialized", torch.tensor(False))

    @property
    def is_initialized(self) -> bool:
        return self.spec.is_float or self.spec.dynamic or bool(self.initialized)

    def set_qparams(self, scale: torch.Tensor, zero_point: torch.Tensor) -> None:
        """Store step and zero point (LSQ+ keeps it as the float offset -z*s), then lock."""
        self._check_step(scale)
        with torch.no_grad():
            self.scale.copy_(scale.reshape(self.scale.shape))
            if self.spec.learn == "step+offset":
                self.offset.copy_((-zero_point * scale).reshape(self.offset.shape))
            elif self.spec.learn == "none":
                self.zero_point.copy_(zero_point.reshape(self.zero_point.shape))
            self.initialized.fill_(True)

    def widen_to(self, low: torch.Tensor, high: torch.Tensor) -> bool:
        """Grow a per-tensor range so that it covers [low, high]; never shrinks it (a quantizer
        no calibration data reached gets exactly that range). True when the step changed.
        For ranges seen on data the calibration batches miss."""
        if self.scale.numel() != 1:
            raise VidquantError(f"layer {self.layer_name or '<unnamed>'}: only a per-tensor range can be widened")
        spec = self.spec
        scale, zero_point = scale_from_range(low.reshape(1), high.reshape(1), spec.qmin, spec.qmax, spec.symmetric)
        if self.is_initialized and bool(scale <= self.scale.detach().reshape(1)):
            return False
        self.set_qparams(scale, zero_point)
        return True

    def initialize_from(self, x: torch.Tensor) -> None:
        observer = make_observer(self.spec)
        observer.observe(self._to_rows(x.float()))
        self.set_qparams(*self._with_fallback(*observer.compute()))

    def start_calibration(self, check_finite: bool = True) -> None:
        self.observer = make_observer(self.spec)
        self.calibrating = True
        self.check_finite = check_finite

    def finish_calibration(self) -> None:
        """Turn what the observer saw into locked qparams (no data seen: stays uninitialized)."""
        if self.observer is not None and self.observer.batches:
            self.set_qparams(*self._with_fallback(*self.observer.compute()))
        self.abort_calibration()

    def abort_calibration(self) -> None:
        """Drop what the observer saw: the quantizer stays as it was before calibrating."""
        self.observer = None
        self.calibrating = False

    def _with_fallback(self, scale: torch.Tensor, zero_point: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """An activation step that saw only zeros (a degenerate range: the observers return the
        smallest float32 step, 1.18e-38) becomes the step of the range [-FALLBACK_RANGE,
        FALLBACK_RANGE], with a warning naming the layer. Weights keep theirs: an all-zero weight
        row is exact at any step."""
        degenerate = scale <= DEGENERATE_STEP
        if self.role != "activation" or not bool(degenerate.any()):
            return scale, zero_point
        spec = self.spec
        bound = torch.full_like(scale, FALLBACK_RANGE)
        fallback, fallback_zero = scale_from_range(-bound, bound, spec.qmin, spec.qmax, spec.symmetric)
        warnings.warn(
            f"layer {self.layer_name or '<unnamed>'}: calibration saw only zeros ({int(degenerate.sum())} of "
            f"{degenerate.numel()} step(s)); fallback step {float(fallback.reshape(-1)[0]):.4g} (range "
            f"+-{FALLBACK_RANGE:g}): calibrate on data that reaches this layer, or set its range with widen_to()",
            stacklevel=3,
        )
        return torch.where(degenerate, fallback, scale), torch.where(degenerate, fallback_zero, zero_point)

    # ---- forward -----------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.export_fn is not None:
            return self.export_fn(x)
        if self.spec.is_float:
            return x.to(_FLOAT_DTYPES[self.spec.float_dtype]).to(x.dtype)
        with torch.autocast(device_type=x.device.type, enabled=False):
            if isinstance(self.spec.granularity, PerRow):
                spec = self.spec
                return dynamic_fake_quantize(x.float(), self.row_dims, spec.qmin, spec.qmax, spec.symmetric).to(x.dtype)
            rows = self._to_rows(x.float())
            if self.calibrating:
                assert self.observer is not None
                # one summing pass (NaN / Inf propagate into the sum), activations only: weights
                # are the model's own and their errors show in the activations they make
                if self.check_finite and self.role == "activation" and not math.isfinite(float(rows.sum())) \
                        and not bool(torch.isfinite(rows).all()):  # (a finite sum can overflow)
                    raise NonFiniteError(f"NaN or Inf reaches quantizer {self.layer_name or '<unnamed>'}")
                self.observer.observe(rows)
                return x
            if not self.is_initialized:
                self.initialize_from(x)
            out = self._quantize_rows(rows, batch=x.shape[0] if self.role == "activation" and x.dim() else 1)
            return self._from_rows(out, x.shape).to(x.dtype)

    def _quantize_rows(self, rows: torch.Tensor, batch: int) -> torch.Tensor:
        spec = self.spec
        if spec.dynamic:
            scale, zero = scale_from_range(rows.amin(1), rows.amax(1), spec.qmin, spec.qmax, spec.symmetric)
            return fake_quantize_affine(rows, scale[:, None], zero[:, None], spec.qmin, spec.qmax)
        self._check_step(self.scale)
        scale = self.scale[:, None]
        if spec.learn == "none":
            return fake_quantize_affine(rows, scale, self.zero_point[:, None], spec.qmin, spec.qmax)
        g = lsq_grad_scale(rows.shape[1] // max(batch, 1), spec.qmax)
        if spec.learn == "step":
            return lsq_quantize(rows, scale, spec.qmin, spec.qmax, g)
        return lsq_plus_quantize(rows, scale, self.offset[:, None], spec.qmin, spec.qmax, g)

    def _check_step(self, scale: torch.Tensor) -> None:
        bad = ~torch.isfinite(scale) | (scale <= 0)
        if bool(bad.any()):
            value = scale.detach().reshape(-1)[bad.reshape(-1)][0].item()
            name = self.layer_name or "<unnamed>"
            raise VidquantError(f"layer {name}: invalid step size {value} (must be finite and > 0)")

    # ---- integer codes (checkpoints, export) -------------------------------------------
    @property
    def has_integer_codes(self) -> bool:
        """True when the quantized values are exactly (q - z) * s for stored integer codes q."""
        return not (self.spec.is_float or self.spec.dynamic) and self.spec.learn != "step+offset"

    def zero_points(self) -> torch.Tensor:
        """Integer zero points; LSQ+ offsets are rounded to the nearest integer multiple of the step."""
        if self.spec.learn == "none":
            return self.zero_point
        if self.spec.learn == "step+offset":
            zero = torch.round(-self.offset.detach() / self.scale.detach())
            return torch.clamp(zero, self.spec.qmin, self.spec.qmax)
        return torch.zeros_like(self.scale.detach())

    def snap_offset(self) -> float:
        """LSQ+: move the learned offset to the nearest integer zero point (what integer runtimes
        store); returns the shift in steps (0 for other quantizers)."""
        if self.spec.learn != "step+offset" or not self.is_initialized:
            return 0.0
        with torch.no_grad():
            snapped = -self.zero_points() * self.scale
            shift = float(((snapped - self.offset) / self.scale).abs().max())
            self.offset.copy_(snapped)
        return shift

    def snap_step(self) -> None:
        """Round the step sizes to ``spec.step_dtype`` in place (what a checkpoint stores), keeping
        them at or above that type's smallest normal number so no step becomes zero."""
        if self.spec.step_dtype is None or not self.is_initialized:
            return
        dtype = _FLOAT_DTYPES[self.spec.step_dtype]
        with torch.no_grad():
            self.scale.copy_(self.scale.clamp(min=torch.finfo(dtype).tiny).to(dtype).to(self.scale.dtype))

    def int_codes(self, x: torch.Tensor) -> torch.Tensor:
        """Integer codes of ``x`` (same shape), matching the values the forward produces."""
        rows = self._to_rows(x.detach().float())
        s, z = self.scale.detach()[:, None], self.zero_points()[:, None]
        return self._from_rows(quantize_to_int(rows, s, z, self.spec.qmin, self.spec.qmax), x.shape)

    def dequantize_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Float values (q - z) * s of integer codes in the tensor's own shape."""
        s, z = self.scale.detach()[:, None], self.zero_points()[:, None]
        return self._from_rows(dequantize_int(self._to_rows(codes), s, z), codes.shape)

    # ---- grouping: every step size owns one row ----------------------------------------
    def _axis(self, ndim: int) -> int:
        granularity = self.spec.granularity
        axis = granularity.axis if isinstance(granularity, PerChannel) else None
        axis = self.channel_axis if axis is None else axis
        return axis % ndim

    def _to_rows(self, x: torch.Tensor) -> torch.Tensor:
        granularity = self.spec.granularity
        if isinstance(granularity, PerTensor) or self.spec.dynamic:
            return x.reshape(1, -1)
        if isinstance(granularity, PerChannel):
            axis = self._axis(x.dim())
            return x.movedim(axis, 0).reshape(x.shape[axis], -1)
        block = granularity.block_size
        axis = self._axis(x.dim())
        matrix = x.movedim(axis, 0).reshape(x.shape[axis], -1)
        length = matrix.shape[1]
        padded_length = math.ceil(length / block) * block
        if padded_length != length:
            matrix = nn.functional.pad(matrix, (0, padded_length - length))
        return matrix.reshape(-1, block)

    def _from_rows(self, rows: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
        granularity = self.spec.granularity
        if isinstance(granularity, PerTensor) or self.spec.dynamic:
            return rows.reshape(shape)
        axis = self._axis(len(shape))
        moved_shape = [shape[axis]] + [d for i, d in enumerate(shape) if i != axis]
        if isinstance(granularity, PerBlock):
            length = math.prod(moved_shape[1:])
            rows = rows.reshape(shape[axis], -1)[:, :length]
        return rows.reshape(moved_shape).movedim(0, axis)

    def extra_repr(self) -> str:
        return self.spec.label()
