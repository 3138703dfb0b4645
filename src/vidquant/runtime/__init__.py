"""Running exported graphs: ONNX Runtime sessions, LiteRT interpreters, deployability of integer kernels, timing."""

from vidquant.runtime.bench import Backend, BenchRow, MachineInfo, benchmark, format_rows, machine_info
from vidquant.runtime.deployability import DeployabilityReport, NodeRow, classify_op, deployability_report
from vidquant.runtime.litert_model import LiteRTModel
from vidquant.runtime.ort_model import OrtModel

__all__ = [
    "Backend", "BenchRow", "DeployabilityReport", "LiteRTModel", "MachineInfo", "NodeRow", "OrtModel", "benchmark",
    "classify_op", "deployability_report", "format_rows", "machine_info",
]
