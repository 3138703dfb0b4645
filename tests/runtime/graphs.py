"""Small ONNX files the runtime tests share: tiny-convnet's float graph and a QDQ version of it."""

from __future__ import annotations

from pathlib import Path

import torch

from vidquant.models import create_model
from vidquant.export import export_onnx
from vidquant.runtime.onnx_files import quantize_static_onnx

SHAPE = (1, 3, 32, 32)
# Left out of the static quantization, so the QDQ graph has one known float convolution.
EXCLUDED_CONV = "/encoder/encoder.0/Conv"


def tiny_model() -> torch.nn.Module:
    return create_model("tiny-convnet").eval()


def tiny_input(seed: int = 0) -> torch.Tensor:
    return torch.rand(SHAPE, generator=torch.Generator().manual_seed(seed))


def float_graph(folder: Path) -> Path:
    """The plain float graph (export_onnx of an unquantized model), its input named input0."""
    return export_onnx(tiny_model(), (tiny_input(),), folder / "tiny_fp32.onnx", input_names=["input0"]).path


def qdq_graph(folder: Path, float_path: Path) -> Path:
    """ONNX Runtime static QDQ, U8S8 per channel, with ``EXCLUDED_CONV`` kept float."""
    calibration = [(tiny_input(seed),) for seed in range(3)]
    return quantize_static_onnx(float_path, folder / "tiny_qdq.onnx", calibration, "uint8", exclude=[EXCLUDED_CONV])
