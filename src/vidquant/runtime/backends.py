"""The backends ``vidquant bench`` compares: PyTorch FP32 and fake-quant, ONNX Runtime FP32 and
INT8, and OpenVINO on both ONNX files when it is installed (optional extra)."""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch
import torch.nn as nn

from vidquant.errors import VidquantError
from vidquant.export import ACTIVATION_TYPES, export_onnx
from vidquant.quant.api import QUANT_STATE_ATTR
from vidquant.quant.checkpoint import storage_plan
from vidquant.runtime.bench import FP32, Backend
from vidquant.runtime.onnx_files import onnx_file_bytes, quantize_static_onnx
from vidquant.runtime.ort_model import OrtModel

INT8_PATHS = ("export", "ort-static")  # vidquant's QDQ export of the fake-quant model | ORT's own PTQ
ACTIVATION_LABELS = {"uint8": "U8S8", "int8": "S8S8"}
FAKE_QUANT = "PyTorch fake-quant"


@dataclass(frozen=True)
class BenchSetup:
    """How the ONNX rows are made and run."""

    workdir: Path
    threads: Optional[int] = None
    activation_type: str = "uint8"
    int8_path: str = "export"

    def __post_init__(self) -> None:
        if self.activation_type not in ACTIVATION_TYPES:
            raise VidquantError(f"activation type must be one of {', '.join(ACTIVATION_TYPES)}, got {self.activation_type!r}")
        if self.int8_path not in INT8_PATHS:
            raise VidquantError(f"INT8 path must be one of {', '.join(INT8_PATHS)}, got {self.int8_path!r}")

    @property
    def int8_label(self) -> str:
        return f"int8 {ACTIVATION_LABELS[self.activation_type]}"


def torch_backend(model: nn.Module, precision: str, size_bytes: int, note: str = "") -> Backend:
    """``model`` in eval mode under inference_mode (no autograd bookkeeping in the timing)."""
    model.eval()

    def run(*inputs: torch.Tensor) -> Any:
        with torch.inference_mode():
            return model(*inputs)

    return Backend(run=run, precision=precision, size_bytes=size_bytes, note=note)


def float_state_bytes(model: nn.Module) -> int:
    return sum(value.numel() * value.element_size() for value in model.state_dict().values())


def quantized_state_bytes(model: nn.Module) -> int:
    """What a vidquant checkpoint of ``model`` holds (packed integer codes)."""
    return sum(entry.nbytes for entry in storage_plan(model).values())


@dataclass(frozen=True)
class OnnxFiles:
    fp32: Path
    int8: Path
    notes: tuple[str, ...] = ()


def write_onnx_files(
    float_model: nn.Module,
    quant_model: nn.Module,
    inputs: Sequence[torch.Tensor],
    calibration: Sequence[Sequence[torch.Tensor]],
    setup: BenchSetup,
) -> OnnxFiles:
    """The FP32 and INT8 graphs the ONNX rows run, written to ``setup.workdir``.

    INT8 is vidquant's Q/DQ export of ``quant_model`` (the numerics PyTorch validated), or with
    ``int8_path="ort-static"`` ONNX Runtime's static PTQ of the FP32 graph on ``calibration``.
    """
    setup.workdir.mkdir(parents=True, exist_ok=True)
    fp32 = export_onnx(float_model, inputs, setup.workdir / "fp32.onnx")
    int8_path = setup.workdir / "int8.onnx"
    if setup.int8_path == "ort-static":
        return OnnxFiles(fp32.path, quantize_static_onnx(fp32.path, int8_path, calibration, setup.activation_type))
    int8 = export_onnx(quant_model, inputs, int8_path, activation_type=setup.activation_type)
    return OnnxFiles(fp32.path, int8.path, tuple(int8.notes))


def standard_backends(float_model: nn.Module, quant_model: nn.Module, files: OnnxFiles, setup: BenchSetup) -> dict[str, Backend]:
    """Every backend of one model, ready for ``benchmark``."""
    int8_note = f"{setup.int8_path}, activations {setup.activation_type}"
    # The exported graph must reproduce the fake-quant model; ORT's own PTQ only approximates FP32.
    int8_twin = FAKE_QUANT if setup.int8_path == "export" else None
    backends = {
        "PyTorch FP32": torch_backend(float_model, FP32, float_state_bytes(float_model)),
        FAKE_QUANT: torch_backend(quant_model, recipe_label(quant_model), quantized_state_bytes(quant_model), "simulated"),
        "ONNX Runtime FP32": ort_backend(files.fp32, FP32, setup.threads),
        "ONNX Runtime INT8": ort_backend(files.int8, setup.int8_label, setup.threads, int8_note, int8_twin),
    }
    if openvino_available():
        for name, path, precision, note, twin in (
            ("OpenVINO FP32", files.fp32, FP32, "", None),
            ("OpenVINO INT8", files.int8, setup.int8_label, int8_note, int8_twin),
        ):
            backend = openvino_backend(path, precision, setup.threads, note, twin)
            if backend is not None:
                backends[name] = backend
    return backends


def recipe_label(model: nn.Module) -> str:
    """The recipe name(s) ``model`` was quantized with."""
    names = [call["recipe"]["name"] for call in getattr(model, QUANT_STATE_ATTR, [])]
    return "+".join(names) or "fake-quant"


def ort_backend(
    path: Path, precision: str, threads: Optional[int], note: str = "", compare_to: Optional[str] = None
) -> Backend:
    return Backend(OrtModel(path, threads=threads), precision, onnx_file_bytes(path), note, compare_to)


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def openvino_backend(
    path: Path, precision: str, threads: Optional[int], note: str = "", compare_to: Optional[str] = None
) -> Optional[Backend]:
    """OpenVINO's CPU plugin on the ONNX file; float parts pinned to f32 (it may pick bf16 otherwise).

    OpenVINO is an optional extra: a graph it cannot compile warns and gives no row (None).
    """
    import openvino

    # No core pinning: pinned to a core another backend (or process) is busy on, median latency rose ~5x here.
    config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False}
    if threads is not None:
        config["INFERENCE_NUM_THREADS"] = threads
    try:
        compiled = openvino.Core().compile_model(str(path), "CPU", config)
    except RuntimeError as error:
        lines = [line for line in str(error).splitlines() if line.strip()]
        warnings.warn(f"OpenVINO cannot compile {path.name}, no OpenVINO row for it: {lines[-1] if lines else error}", stacklevel=2)
        return None
    return Backend(_openvino_runner(compiled), precision, onnx_file_bytes(path), note, compare_to)


def _openvino_runner(compiled: Any) -> Callable[..., Any]:
    request = compiled.create_infer_request()

    def run(*inputs: torch.Tensor) -> Any:
        result = request.infer([x.detach().cpu().numpy() for x in inputs])
        outputs = tuple(torch.from_numpy(result[port].copy()) for port in compiled.outputs)
        return outputs[0] if len(outputs) == 1 else outputs

    return run
