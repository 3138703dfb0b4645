"""ONNX Runtime's own static INT8 quantization (a benchmark reference), and ONNX file sizes.

``quantize_static_onnx`` is ONNX Runtime's post-training quantizer, not vidquant's exporter: it
calibrates its own scales, so its numbers are not the ones PyTorch validated. The benchmark
offers it as an explicit reference path (``--int8-path ort-static``); the default INT8 row is
the vidquant QDQ export of the fake-quantized model.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator, Sequence, Union

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from vidquant.errors import VidquantError

ORT_ACTIVATION_TYPES = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}


class _TensorReader(CalibrationDataReader):
    """Feeds calibration batches (tuples of positional tensors) to ONNX Runtime's calibrator."""

    def __init__(self, names: Sequence[str], batches: Sequence[Sequence[torch.Tensor]]) -> None:
        self._feeds = iter(
            [{name: t.detach().cpu().numpy().astype(np.float32) for name, t in zip(names, batch)} for batch in batches]
        )

    def get_next(self):
        return next(self._feeds, None)


def quantize_static_onnx(
    float_path: Union[str, Path],
    out_path: Union[str, Path],
    calibration: Sequence[Sequence[torch.Tensor]],
    activation_type: str = "uint8",
    per_channel: bool = True,
    exclude: Sequence[str] = (),
) -> Path:
    """ONNX Runtime static QDQ quantization: int8 weights (per channel), ``activation_type`` activations;
    the nodes named in ``exclude`` stay float."""
    if activation_type not in ORT_ACTIVATION_TYPES:
        raise VidquantError(f"activation type must be one of {', '.join(ORT_ACTIVATION_TYPES)}, got {activation_type!r}")
    if not calibration:
        raise VidquantError("ONNX Runtime static quantization needs at least one calibration batch")
    names = [node.name for node in ort.InferenceSession(str(float_path), providers=["CPUExecutionProvider"]).get_inputs()]
    with _quiet_root_logger():
        quantize_static(
            str(float_path),
            str(out_path),
            _TensorReader(names, calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=ORT_ACTIVATION_TYPES[activation_type],
            weight_type=QuantType.QInt8,
            nodes_to_exclude=list(exclude),
        )
    return Path(out_path)


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """ONNX Runtime's quantizer logs 'consider pre-processing' on the root logger every call."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def onnx_file_bytes(path: Union[str, Path]) -> int:
    """Size of an ONNX model on disk, external-data files next to it included."""
    path = Path(path)
    graph = onnx.load(str(path), load_external_data=False).graph
    locations = {
        entry.value
        for tensor in graph.initializer
        for entry in tensor.external_data
        if entry.key == "location"
    }
    return path.stat().st_size + sum((path.parent / name).stat().st_size for name in locations)
