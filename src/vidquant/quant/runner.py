"""How a model runs (``forward=``), and where a non-finite value first appears in it.

Codecs and other models often have no ``forward`` (``compress`` / ``decompress``, custom passes).
Every entry point that runs a model (``calibrate_ptq``, ``distill``, ``report``, ``export_onnx``)
takes ``forward(model, batch)``; ``resolve_forward`` gives the default (call the model) and the
one-line error for a model without ``forward``. ``first_non_finite`` names the first module
whose output holds NaN / Inf on a batch (hooks on every module, run once: only when something
already went wrong, so the default path pays nothing for it).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch
import torch.nn as nn

from vidquant.errors import VidquantError

Forward = Callable[[nn.Module, Any], Any]


def default_forward(model: nn.Module, batch: Any) -> Any:
    """Call the model on a batch: a tensor, a tuple/list of positional inputs, or a dict of kwargs."""
    if isinstance(batch, dict):
        return model(**batch)
    if isinstance(batch, (tuple, list)):
        return model(*batch)
    return model(batch)


def has_forward(model: nn.Module) -> bool:
    """False for a module whose class defines no ``forward`` (torch's placeholder raises)."""
    return getattr(type(model), "forward", None) is not nn.Module.forward


def resolve_forward(model: nn.Module, forward: Optional[Forward], who: str) -> Forward:
    """``forward`` or the default call; a one-line error when the model cannot be called."""
    if forward is not None:
        return forward
    if not has_forward(model):
        raise VidquantError(
            f"{who}: {type(model).__name__} has no forward(); pass forward=fn, where fn(model, batch) runs it "
            "(e.g. lambda m, x: m.decompress(*m.compress(x)))"
        )
    return default_forward


def tensors_in(value: Any) -> list[torch.Tensor]:
    """The floating-point tensors in a (nested) model output, in a fixed order."""
    if isinstance(value, torch.Tensor):
        return [value] if value.is_floating_point() else []
    if isinstance(value, dict):
        return [t for key in sorted(value, key=str) for t in tensors_in(value[key])]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in tensors_in(item)]
    return []


def all_finite(value: Any) -> bool:
    """True when every floating-point tensor in ``value`` is free of NaN and Inf."""
    return all(bool(torch.isfinite(t).all()) for t in tensors_in(value))


def first_non_finite(model: nn.Module, forward: Forward, batch: Any) -> Optional[str]:
    """Name of the first module (in call order, innermost first) whose output holds NaN or Inf
    on ``batch``, or None when the whole run stays finite (e.g. the failure was in a loss)."""
    found: list[str] = []

    def hook(name: str):
        def check(module: nn.Module, inputs: tuple, output: Any) -> None:
            if not found and not all_finite(output):
                found.append(name or type(model).__name__)
        return check

    handles = [module.register_forward_hook(hook(name)) for name, module in model.named_modules()]
    try:
        with torch.no_grad():
            result = forward(model, batch)
    except Exception:  # the diagnosis must not hide the original error
        result = None
    finally:
        for handle in handles:
            handle.remove()
    if found:
        return found[0]
    if result is not None and not all_finite(result):
        return f"{type(model).__name__} (outside any submodule)"
    return None


def non_finite_error(
    who: str, layer: Optional[str],
    fix: str = "check that layer's weights, steps and inputs on these batches (check_finite=False skips this check)",
) -> VidquantError:
    """The one-line error for NaN / Inf, naming the first layer that produced it."""
    where = f"first at layer {layer}" if layer else "in the loss, not in a layer output"
    return VidquantError(f"{who}: NaN or Inf {where}; {fix}")


class bypass_quantizers:
    """Inside, every quantizer of ``model`` passes values through unchanged (the float model)."""

    def __init__(self, model: nn.Module) -> None:
        from vidquant.quant.quantizer import FakeQuantizer

        self.quantizers = [m for m in model.modules() if isinstance(m, FakeQuantizer)]
        self.saved: list[Any] = []

    def __enter__(self) -> None:
        self.saved = [q.export_fn for q in self.quantizers]
        for quantizer in self.quantizers:
            quantizer.export_fn = _identity

    def __exit__(self, *exc: Any) -> None:
        for quantizer, export_fn in zip(self.quantizers, self.saved):
            quantizer.export_fn = export_fn


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x
