"""The models a coding command runs: the float codec, or an INT8 student on one backend.

``build_models(ModelSpec)`` reads the weights, replays and loads the student, and for the ONNX
backends exports the decoder networks (``workflow.quantize_decoder.swap_decoder_to_onnx``).
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vidquant.errors import VidquantError
from vidquant.quant.integer_kernels import emulate_integer_kernels

from ..net.model import DCVCRT, build_codec, require_weights
from .quantize_decoder import calibration_record, load_quantized_codec, swap_decoder_to_onnx


@dataclass(frozen=True)
class ModelSpec:
    preset: str
    model_path_i: str | None = None
    model_path_p: str | None = None
    synthetic: bool = False
    quant: str | None = None  # decoder-quantized student (vidquant codec calibrate)
    open_loop: bool = False  # measurement only: float encoder, quantized decoder
    backend: str = "torch"  # see BACKENDS


# --backend -> what result files record. "torch": a graph-scope student computes integer-kernel
# arithmetic (vidquant.quant.integer_kernels); "torch-fake-quant": float arithmetic, as in training.
BACKENDS = {"torch": "pytorch", "torch-fake-quant": "pytorch (fake-quant arithmetic)", "onnx": "onnxruntime",
            "onnx-reference": "onnxruntime (reference kernels)"}


@dataclass
class BuiltModels:
    """The models of one ``ModelSpec`` as a worker runs them: the encoder's, the decoder's (the same
    one except in an open-loop measurement), the student's calibration record, and the folder of
    the exported ONNX graphs (kept while the models live)."""

    encoder: DCVCRT
    decoder: DCVCRT
    record: dict
    onnx_folder: tempfile.TemporaryDirectory | None = None


def build_models(spec: ModelSpec, record: dict | None = None) -> BuiltModels:
    """Build the models of ``spec`` (``record``: the student's calibration record if already read)."""
    codec = require_weights(build_codec(spec.preset, spec.model_path_i, spec.model_path_p, spec.synthetic))
    if spec.quant is None:
        if spec.open_loop:
            raise VidquantError("--open_loop needs --quant (the quantized decoder to measure)")
        return BuiltModels(codec, codec, {})
    record = calibration_record(spec.quant) if record is None else record
    quantized = load_quantized_codec(copy.deepcopy(codec), spec.quant, record)
    if spec.backend == "torch":
        emulate_integer_kernels(quantized)  # graph-scope networks; layer recipes keep fake-quant arithmetic
    built = BuiltModels(codec if spec.open_loop else quantized, quantized, record)
    if not spec.backend.startswith("torch"):
        built.onnx_folder = tempfile.TemporaryDirectory(prefix="vidquant-codec-onnx-")  # the exported graphs
        swap_decoder_to_onnx(quantized, Path(built.onnx_folder.name), optimize=spec.backend == "onnx")
    return built

