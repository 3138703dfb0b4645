"""The models a coding command runs: the float codec, or an INT8 student on one backend.

``build_models(ModelSpec)`` reads the weights, replays and loads the student, and for the ONNX
backends exports the decoder networks (``workflow.quantize_decoder.swap_decoder_to_onnx``);
``codec test``, ``codec encode`` and ``codec decode`` all build their models here.

Which backend may decode which stream: ``codec encode --quant`` codes with PyTorch
(``--backend torch``: a graph-scope student computes ONNX Runtime's integer-kernel
arithmetic, ``vidquant.quant.integer_kernels``; a layer-scope student fake-quant arithmetic).
ONNX Runtime reproduces the first exactly and not the second, so only a graph-scope student's
streams decode on ``--backend onnx`` (``check_stream_backend``).
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vidquant.errors import VidquantError
from vidquant.io.digest import file_sha256
from vidquant.quant.integer_kernels import emulate_integer_kernels

from ..net.model import DCVCRT, build_codec, packaged_weights, require_weights
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


def weight_fingerprints(spec: ModelSpec) -> list[tuple[str, str]]:
    """(role, SHA-256) of every file ``spec`` reads weights from: what a sweep's journal checks
    before it reuses results (the synthetic fill has no file: its role is named alone)."""
    if spec.synthetic:
        files = [("float", None)]
    elif spec.model_path_i is not None:
        files = [("image", spec.model_path_i), ("video", spec.model_path_p)]
    else:
        files = list(zip(("image", "video"), packaged_weights(spec.preset) or (None, None)))
    files += [("quant", spec.quant)] if spec.quant is not None else []
    return [(role, file_sha256(path) if path is not None and Path(path).is_file() else "none") for role, path in files]


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


# The backends a `codec decode --quant` may run: they reproduce the PyTorch encoder sample for
# sample (onnx for graph-scope students only, see check_stream_backend).
STREAM_BACKENDS: tuple[str, ...] = ("torch", "onnx")


def is_graph_scope_student(path: str | Path) -> bool:
    """True when every quantize call recorded in the student is a graph-scope recipe."""
    from vidquant.quant.checkpoint import read_header

    calls = read_header(path)["quantization"]
    return bool(calls) and all(call["recipe"].get("scope") == "graph" for call in calls)


def check_stream_backend(spec: ModelSpec) -> None:
    """Refuse a decoder backend that would not compute the encoder's numbers for ``spec``: the
    entropy decoder would lose sync and decode garbage (the stream does not record a backend)."""
    if spec.backend not in STREAM_BACKENDS:
        raise VidquantError(f"--backend {spec.backend} does not reproduce the encoder; use one of {', '.join(STREAM_BACKENDS)}")
    if spec.backend == "torch":
        return
    if spec.quant is None:
        raise VidquantError(f"--backend {spec.backend} runs an INT8 student's decoder; give it with --quant")
    if not is_graph_scope_student(spec.quant):
        raise VidquantError(
            f"{spec.quant} is a layer-scope student: ONNX Runtime computes other numbers than the PyTorch "
            "encoder, so its streams decode only with --backend torch (a graph-scope student, e.g. "
            "codec calibrate --recipe w8a8-static, or any recipe with --scope graph, decodes on ONNX Runtime)")
