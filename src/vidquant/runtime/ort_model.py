"""``OrtModel``: an ONNX file run by ONNX Runtime behind the PyTorch module's call signature.

Pipelines written against ``model(x)`` (codec decoder, UVQ, SCI) swap the PyTorch module for
``OrtModel(path)`` and keep working: positional torch tensors in, torch tensors out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import onnxruntime as ort
import torch

from vidquant.errors import VidquantError, first_line
from vidquant.runtime.shapes import check_input_shape

DEFAULT_PROVIDERS = ("CPUExecutionProvider",)

# ONNX Runtime's type strings -> numpy dtypes the graph inputs are fed as.
ORT_NUMPY_TYPES: dict[str, type] = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}

TensorLike = Union[torch.Tensor, np.ndarray]


def make_session_options(threads: Optional[int] = None) -> ort.SessionOptions:
    """Session options shared by every vidquant session: ``threads`` sets the intra-op pool."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initializers etc. are noise here
    if threads is not None:
        if threads < 1:
            raise VidquantError(f"threads must be >= 1, got {threads}")
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return options


def resolve_providers(providers: Optional[Sequence[str]]) -> list[str]:
    """The execution providers to ask for (CPU when None); unknown ones fail with the available list."""
    wanted = list(providers or DEFAULT_PROVIDERS)
    available = ort.get_available_providers()
    missing = [name for name in wanted if name not in available]
    if missing:
        raise VidquantError(
            f"execution provider(s) {', '.join(missing)} not available; available: {', '.join(available)}"
        )
    return wanted


def open_session(path: Union[str, Path], options: ort.SessionOptions, providers: Sequence[str]) -> ort.InferenceSession:
    """An InferenceSession, or a one-line error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise VidquantError(f"{path} does not exist or is not a file")
    try:
        return ort.InferenceSession(str(path), options, providers=list(providers))
    except Exception as error:  # ORT raises its own Fail/InvalidGraph/... types for bad files
        raise VidquantError(f"{path}: ONNX Runtime cannot load it ({first_line(error)})") from None


class OrtModel:
    """Run ``path`` with ONNX Runtime; call it like the PyTorch module it was exported from.

    Inputs are cast to the dtypes the graph declares (a float16 graph takes float32 tensors);
    floating outputs come back in the caller's float dtype and on the first input's device.
    A graph with several outputs returns a tuple.
    """

    def __init__(
        self,
        path: Union[str, Path],
        providers: Optional[Sequence[str]] = None,
        threads: Optional[int] = None,
        optimize: bool = True,
    ) -> None:
        """``optimize=False`` turns ONNX Runtime's graph optimizations off: every node runs as
        written with its reference kernel (no fused integer kernels), which shows what the
        graph itself computes."""
        self.path = Path(path)
        options = make_session_options(threads)
        if not optimize:
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        self.session = open_session(self.path, options, resolve_providers(providers))
        self._inputs = self.session.get_inputs()
        self._output_names = [output.name for output in self.session.get_outputs()]

    @property
    def input_names(self) -> list[str]:
        return [node.name for node in self._inputs]

    @property
    def output_names(self) -> list[str]:
        return list(self._output_names)

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def eval(self) -> "OrtModel":
        """No-op, so code that puts a module in eval mode accepts an OrtModel too."""
        return self

    def feeds(self, inputs: Sequence[TensorLike]) -> dict[str, np.ndarray]:
        """The ORT feed dict for positional ``inputs``, checked against the graph's declared inputs."""
        if len(inputs) != len(self._inputs):
            raise VidquantError(
                f"{self.path.name} takes {len(self._inputs)} input(s) ({', '.join(self.input_names)}), got {len(inputs)}"
            )
        return {node.name: _to_numpy(value, node) for node, value in zip(self._inputs, inputs)}

    def __call__(self, *inputs: TensorLike) -> Union[torch.Tensor, tuple[torch.Tensor, ...]]:
        outputs = self.session.run(self._output_names, self.feeds(inputs))
        like = next((x for x in inputs if isinstance(x, torch.Tensor) and x.is_floating_point()), None)
        tensors = tuple(_to_torch(array, like) for array in outputs)
        return tensors[0] if len(tensors) == 1 else tensors

    def __repr__(self) -> str:
        return f"OrtModel({str(self.path)!r}, providers={self.providers})"


def _to_numpy(value: TensorLike, node: Any) -> np.ndarray:
    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    check_input_shape(node.name, list(node.shape), array.shape)
    dtype = ORT_NUMPY_TYPES.get(node.type)
    if dtype is None:
        raise VidquantError(f"graph input {node.name!r} has type {node.type}, which vidquant cannot feed")
    return np.ascontiguousarray(array, dtype=dtype)


def _to_torch(array: np.ndarray, like: Optional[torch.Tensor]) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if like is None:
        return tensor
    if tensor.is_floating_point():
        tensor = tensor.to(like.dtype)
    return tensor.to(like.device)
