"""Post-training calibration: run observers over batches, then set and lock the step sizes."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterable, Iterator, Optional

import torch
import torch.nn as nn

from vidquant.quant.api import quantize, quantizers
from vidquant.quant.quantizer import NonFiniteError
from vidquant.quant.runner import Forward, bypass_quantizers, default_forward, first_non_finite, non_finite_error, resolve_forward

__all__ = ["Forward", "calibrate_ptq", "calibrating", "default_forward", "quantize_on_random_inputs"]


@contextlib.contextmanager
def calibrating(model: nn.Module, check_finite: bool = True) -> Iterator[int]:
    """Inside, uninitialized quantizers observe data (and pass values through unchanged);
    on a normal exit they compute and lock their step sizes. Yields how many quantizers
    calibrate. If the block raises, they stay uninitialized (nothing half-locked)."""
    pending = [q for _, q in quantizers(model) if not q.is_initialized]
    for quantizer in pending:
        quantizer.start_calibration(check_finite)
    try:
        yield len(pending)
    except BaseException:
        for quantizer in pending:
            quantizer.abort_calibration()
        raise
    for quantizer in pending:
        quantizer.finish_calibration()


def calibrate_ptq(
    model: nn.Module,
    batches: Iterable[Any],
    forward: Optional[Forward] = None,
    max_batches: Optional[int] = None,
    check_finite: bool = True,
) -> nn.Module:
    """Observe ``batches`` and lock every uninitialized quantizer's step size (already locked ones are kept).

    ``forward(model, batch)`` runs the model on one batch (default: ``model(batch)``, or
    ``model(*batch)`` / ``model(**batch)``); give it for models without ``forward`` (codecs with
    ``compress`` / ``decompress``). If a batch raises, no quantizer is locked. With
    ``check_finite`` (default), NaN or Inf reaching a quantizer raises a one-line error naming
    the first layer whose output held it.
    """
    forward = resolve_forward(model, forward, "calibrate_ptq")
    locked = sum(q.is_initialized for _, q in quantizers(model) if not (q.spec.dynamic or q.spec.is_float))
    if locked:
        warnings.warn(f"{locked} quantizer(s) already initialized keep their step sizes", stacklevel=2)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), calibrating(model, check_finite):
            for index, batch in enumerate(batches):
                if max_batches is not None and index >= max_batches:
                    break
                current = batch
                forward(model, batch)
    except NonFiniteError as error:
        with bypass_quantizers(model):
            layer = first_non_finite(model, forward, current)
        raise non_finite_error("calibrate_ptq", layer or str(error).removeprefix("NaN or Inf reaches quantizer "),
                               "check the float model on these batches (check_finite=False skips this check)") from None
    finally:
        model.train(was_training)
    return model


def quantize_on_random_inputs(
    model: nn.Module, recipe: Any, example_inputs: list[torch.Tensor], batches: int = 4, seed: int = 0
) -> nn.Module:
    """``quantize(model, recipe)`` with static ranges observed on ``batches`` standard-normal
    batches shaped like ``example_inputs``: a model for latency and size measurements, whose
    speed and storage do not depend on the values it was calibrated on."""
    quantized = quantize(model, recipe, example_inputs=example_inputs)
    generator = torch.Generator().manual_seed(seed)
    calibrate_ptq(quantized, [[torch.randn(x.shape, generator=generator) for x in example_inputs] for _ in range(batches)])
    return quantized
