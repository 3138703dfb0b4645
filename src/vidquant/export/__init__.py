"""ONNX export of quantized models (Q/DQ graphs whose integer numerics match PyTorch)."""

from vidquant.export.onnx_export import ExportResult, check_inputs_fit, export_onnx
from vidquant.export.qdq import ACTIVATION_TYPES, install_qdq_hooks

__all__ = ["ACTIVATION_TYPES", "ExportResult", "check_inputs_fit", "export_onnx", "install_qdq_hooks"]
