"""Post-training calibration: run observers over batches, then set and lock the step sizes."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterable, Iterator, Optional

import torch
import torch.nn as nn

from vidquant.quant.api import quantize, quantizers

Forward = Callable[[nn.Module, Any], Any]


def default_forward(model: nn.Module, batch: Any) -> Any:
    """Call the model on a batch: a tensor, a tuple/list of positional inputs, or a dict of kwargs."""
    if isinstance(batch, dict):
        return model(**batch)
    if isinstance(batch, (tuple, list)):
        return model(*batch)
    return model(batch)


@contextlib.contextmanager
def calibrating(model: nn.Module) -> Iterator[int]:
    """Inside, uninitialized quantizers observe data (and pass values through unchanged);
    on exit they compute and lock their step sizes. Yields how many quantizers calibrate."""
    pending = [q for _, q in quantizers(model) if not q.is_initialized]
    for quantizer in pending:
        quantizer.start_calibration()
    try:
        yield len(pending)
    finally:
        for quantizer in pending:
            quantizer.finish_calibration()


def calibrate_ptq(
    model: nn.Module, batches: Iterable[Any], forward: Optional[Forward] = None, max_batches: Optional[int] = None
) -> nn.Module:
    """Observe ``batches`` and lock every uninitialized quantizer's step size (already locked ones are kept)."""
    forward = forward or default_forward
    locked = sum(q.is_initialized for _, q in quantizers(model) if not (q.spec.dynamic or q.spec.is_float))
    if locked:
        warnings.warn(f"{locked} quantizer(s) already initialized keep their step sizes", stacklevel=2)
    was_training = model.training
    model.eval()
    with torch.no_grad(), calibrating(model):
        for index, batch in enumerate(batches):
            if max_batches is not None and index >= max_batches:
                break
            forward(model, batch)
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
