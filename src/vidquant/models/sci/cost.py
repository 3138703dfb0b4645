"""Multiply-accumulate counts of an SCI network, per module, from one shape-only forward pass.

Convention: one MAC per multiply-add of a Conv3d/Conv2d, Linear or attention MatMul; biases,
activations, softmax, additions and pixel shuffles are not counted (as in the usual FLOP
counters the SCI papers quote, where "OPs" are these MACs).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from vidquant.models.sci.layers import MatMul


def _macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    if isinstance(module, (nn.Conv2d, nn.Conv3d)):
        return output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(module, MatMul):
        return output.numel() * inputs[0].shape[-1]
    return 0


COUNTED = (nn.Conv2d, nn.Conv3d, nn.Linear, MatMul)


def count_macs(model: nn.Module, height: int = 256, width: int = 256) -> dict[str, int]:
    """MACs of each counted leaf module (by name) for one snapshot of ``height`` x ``width``.

    Runs on the meta device (shapes only, no arithmetic), so full-size counts are instant.
    Subclasses of the counted types (quantized layers keeping torch signatures) count too.
    """
    import copy

    meta = copy.deepcopy(model).to("meta")
    counts: dict[str, int] = {}
    hooks = [
        module.register_forward_hook(lambda m, i, o, name=name: counts.__setitem__(name, counts.get(name, 0) + _macs(m, i, o)))
        for name, module in meta.named_modules()
        if isinstance(module, COUNTED)
    ]
    frames = meta.config.frames
    mask = torch.ones(frames, height, width, device="meta")
    with torch.no_grad():
        meta(torch.ones(1, height, width, device="meta"), mask)
    for hook in hooks:
        hook.remove()
    return counts
