"""Run chosen submodules of a PyTorch model through ONNX Runtime, exported on first use.

A pipeline such as a video codec calls its networks from Python control flow (entropy coding
sits between them), so the whole model is not one graph. ``swap_to_onnx`` replaces the named
submodules by ``OnnxModule``: on the first call with a given set of input shapes it exports
the module (with its quantizers as Q/DQ) and from then on runs the ONNX Runtime session, so
the rest of the pipeline is unchanged and measures what the integer runtime computes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional

import torch
import torch.nn as nn

from vidquant.errors import VidquantError
from vidquant.export import export_onnx
from vidquant.quant import outermost_matches
from vidquant.runtime.ort_model import OrtModel


class OnnxModule(nn.Module):
    """``module`` run by ONNX Runtime; one exported graph per distinct input-shape signature."""

    def __init__(self, module: nn.Module, folder: Path, name: str, activation_type: str = "uint8",
                 threads: Optional[int] = None, optimize: bool = True) -> None:
        super().__init__()
        self.optimize = optimize
        self.module = module.eval()
        self.folder = Path(folder)
        self.name = name
        self.activation_type = activation_type
        self.threads = threads
        self.sessions: dict[tuple, OrtModel] = {}

    def forward(self, *inputs: torch.Tensor) -> Any:
        if not all(isinstance(x, torch.Tensor) for x in inputs):
            raise VidquantError(f"{self.name}: ONNX Runtime swap needs tensor arguments only")
        key = tuple(tuple(x.shape) for x in inputs)
        if key not in self.sessions:
            self.sessions[key] = self._export(inputs, len(self.sessions))
        return self.sessions[key](*inputs)

    def _export(self, inputs: tuple[torch.Tensor, ...], index: int) -> OrtModel:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.name.replace('.', '_')}_{index}.onnx"
        with torch.no_grad():
            export_onnx(self.module, inputs, path, activation_type=self.activation_type)
        return OrtModel(path, threads=self.threads, optimize=self.optimize)


def swap_to_onnx(model: nn.Module, patterns: Iterable[str], folder: Path, activation_type: str = "uint8",
                 threads: Optional[int] = None, optimize: bool = True) -> list[str]:
    """Replace every submodule whose qualified name matches a glob in ``patterns`` (outermost
    match only) by an ``OnnxModule``; returns the replaced names. ``optimize=False``: ONNX
    Runtime's reference kernels, no graph optimization (see ``OrtModel``)."""
    replaced = outermost_matches(model, patterns)
    for name in replaced:
        module = model.get_submodule(name)
        model.set_submodule(name, OnnxModule(module, folder, name, activation_type, threads, optimize))
    return replaced
