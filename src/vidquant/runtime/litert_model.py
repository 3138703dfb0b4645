"""``LiteRTModel``: a ``.tflite`` file run by LiteRT's interpreter (XNNPACK on the CPU) behind the
PyTorch module's call signature, as ``OrtModel`` does for ONNX files.

ai-edge-litert's ``Interpreter`` is used directly (litert-torch's own Python call of a converted
model fails with an interpreter-wrapper signature error in 0.10). LiteRT is an optional extra:
without it, constructing a ``LiteRTModel`` is a one-line error naming the install command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch

from vidquant.errors import VidquantError, first_line
from vidquant.export.tflite import import_litert
from vidquant.runtime.shapes import check_input_shape

TFLITE_MAGIC = b"TFL3"  # flatbuffer file identifier, bytes 4..8


class LiteRTModel:
    """Run ``path`` with LiteRT; call it like the PyTorch module it was converted from.

    Positional torch tensors (or arrays) in, in the order of the converted model's arguments;
    float32 torch tensors out (a tuple when the model has several outputs)."""

    def __init__(self, path: Union[str, Path], threads: Optional[int] = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise VidquantError(f"{self.path} does not exist or is not a file")
        if threads is not None and threads < 1:
            raise VidquantError(f"threads must be >= 1, got {threads}")
        with open(self.path, "rb") as handle:
            head = handle.read(8)
        if head[4:8] != TFLITE_MAGIC:
            raise VidquantError(f"{self.path}: not a TFLite flatbuffer (no {TFLITE_MAGIC.decode()} identifier)")
        interpreter_module = import_litert("ai_edge_litert.interpreter")
        try:
            self.interpreter = interpreter_module.Interpreter(model_path=str(self.path), num_threads=threads)
            self.interpreter.allocate_tensors()
            self._runner = self.interpreter.get_signature_runner()
        except Exception as error:  # LiteRT raises ValueError/RuntimeError for damaged files
            raise VidquantError(f"{self.path}: LiteRT cannot load it ({first_line(error)})") from None
        details = self._runner.get_input_details()
        self._inputs = sorted(details.items(), key=lambda item: _argument_index(item[0]))
        self._outputs = sorted(self._runner.get_output_details(), key=_argument_index)

    @property
    def input_names(self) -> list[str]:
        return [name for name, _ in self._inputs]

    @property
    def input_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(int(d) for d in detail["shape"]) for _, detail in self._inputs]

    def eval(self) -> "LiteRTModel":
        """No-op, so code that puts a module in eval mode accepts a LiteRTModel too."""
        return self

    def __call__(self, *inputs: Union[torch.Tensor, np.ndarray]) -> Union[torch.Tensor, tuple[torch.Tensor, ...]]:
        if len(inputs) != len(self._inputs):
            raise VidquantError(
                f"{self.path.name} takes {len(self._inputs)} input(s) ({', '.join(self.input_names)}), got {len(inputs)}"
            )
        feeds = {}
        for (name, detail), value in zip(self._inputs, inputs):
            array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            check_input_shape(name, [int(d) for d in detail["shape"]], array.shape, what="model")
            feeds[name] = np.ascontiguousarray(array, dtype=detail["dtype"])
        outputs = self._runner(**feeds)
        tensors = tuple(torch.from_numpy(np.array(outputs[name], dtype=np.float32)) for name in self._outputs)
        return tensors[0] if len(tensors) == 1 else tensors

    def __repr__(self) -> str:
        return f"LiteRTModel({str(self.path)!r})"


def _argument_index(name: str) -> int:
    """``args_3`` / ``output_3`` -> 3 (litert-torch's signature names), others first."""
    tail = name.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else -1
