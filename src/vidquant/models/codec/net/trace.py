"""Optional recording of named intermediates (the conformance pack's names)."""

from __future__ import annotations

import torch

Trace = dict[str, torch.Tensor] | None


def record(trace: Trace, name: str, tensor: torch.Tensor) -> torch.Tensor:
    """Store ``tensor`` under ``name`` when tracing; always return it unchanged."""
    if trace is not None:
        trace[name] = tensor
    return tensor


def record_step(trace: Trace, step: int, scales: torch.Tensor, means: torch.Tensor, result) -> None:
    """Store one spatial-prior step's tensors under the names ``step{k}.*``."""
    if trace is None:
        return
    named = {"scales": scales, "means": means, "y_res": result.y_res, "y_q": result.y_q}
    named.update({"y_hat": result.y_hat, "y_q_w": result.y_q_w, "s_w": result.s_w})
    for name, tensor in named.items():
        if tensor is not None:
            trace[f"step{step}.{name}"] = tensor
