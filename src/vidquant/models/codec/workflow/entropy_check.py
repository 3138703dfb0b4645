"""Entropy-parameter agreement between two decoders of one stream: 0 index mismatches.

A range decoder stays in sync only while it picks, for every symbol, the table the encoder
picked: the index of the symbol's scale (``net.entropy_models.scale_index``), computed by the
hyper decoder, prior fusion and spatial prior. ``index_mismatches`` decodes a stream with two
decoders (PyTorch's integer-kernel emulation, which the encoder runs, and ONNX Runtime), each
reading the payload itself, and counts the symbols whose scale index differs (a differing set of
written positions counts every position of the larger set).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from vidquant.deploy.bitstream import Bitstream

from ..net.entropy_models import FrameReader, scale_index
from ..net.frame_coder import FramePlan
from ..net.model import DCVCRT


@dataclass
class IndexRecorder:
    """A payload reader that keeps the scale index of every symbol it reads, step by step."""

    reader: FrameReader
    indices: list[torch.Tensor] = field(default_factory=list)

    def read_z(self, z_probs, shape) -> torch.Tensor:
        return self.reader.read_z(z_probs, shape)

    def read_step(self, step: int, s_w: torch.Tensor) -> torch.Tensor:
        self.indices.append(scale_index(s_w).reshape(-1))
        return self.reader.read_step(step, s_w)


@dataclass
class IndexCheck:
    """Symbols compared and index mismatches, in total and per frame."""

    symbols: int = 0
    mismatches: int = 0
    per_frame: list[int] = field(default_factory=list)


def _mismatches(a: list[torch.Tensor], b: list[torch.Tensor]) -> tuple[int, int]:
    symbols, differing = 0, abs(len(a) - len(b))
    for x, y in zip(a, b):
        symbols += max(x.numel(), y.numel())
        differing += int((x != y).sum()) if x.shape == y.shape else max(x.numel(), y.numel())
    return symbols, differing


@torch.no_grad()
def index_mismatches(reference: DCVCRT, other: DCVCRT, stream: Bitstream) -> IndexCheck:
    """Decode ``stream`` with ``reference`` (the encoder's numerics) and ``other`` and compare the
    scale index of every symbol each reads."""
    check = IndexCheck()
    size = (-(-stream.height // 16) * 16, -(-stream.width // 16) * 16)
    coders = (reference.frame_coder(), other.frame_coder())
    for index, frame in enumerate(stream.frames):
        plan = FramePlan(index, frame.kind, frame.qp, frame.use_ada_i)
        recorders = [IndexRecorder(FrameReader(frame.payload, stream.thres)) for _ in coders]
        for coder, recorder in zip(coders, recorders):
            coder.decompress(plan, recorder, size)
        symbols, differing = _mismatches(recorders[0].indices, recorders[1].indices)
        check.symbols += symbols
        check.mismatches += differing
        check.per_frame.append(differing)
    return check
