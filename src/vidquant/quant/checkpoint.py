"""Quantized-model checkpoints: safetensors with integer codes, quantizer state and the recipe.

Weights with integer codes are stored packed (int4 two per byte, int2 four per byte), float16
weights as float16, step sizes of quantizers with a ``step_dtype`` in that type (the model's
steps are rounded to it on save, ``snap_steps``), everything else as it is. ``storage_plan`` decides this once, so the size a
report prints is exactly the tensor bytes a checkpoint holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn as nn

from vidquant.errors import VidquantError
from vidquant.io.checkpoint import read_safetensors, read_safetensors_metadata, write_safetensors
from vidquant.quant.api import (
    QUANT_STATE_ATTR,
    is_quantized,
    quant_layers,
    quantizers,
    replay_quantization,
    snap_steps,
    submodule_calls,
)
from vidquant.quant.primitives import pack_codes, unpack_codes

FORMAT_NAME = "vidquant-checkpoint"
FORMAT_VERSION = 1
CODES_SUFFIX = ".__codes__"
# Set on a model by load_quantized: its weights are the stored (quantized) ones, so the float
# weights a weight SQNR compares against are not known.
WEIGHTS_FROM_FILE_ATTR = "vidquant_weights_from_file"

_FLOAT_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class StoredTensor:
    """How one state-dict entry is written: under ``key`` as ``tensor``, plus code layout if packed."""

    key: str
    tensor: torch.Tensor
    bits: Optional[int] = None
    signed: bool = True
    numel: int = 0
    shape: tuple[int, ...] = ()
    quantized: bool = False

    @property
    def nbytes(self) -> int:
        return self.tensor.numel() * self.tensor.element_size()


def storage_plan(model: nn.Module) -> dict[str, StoredTensor]:
    """State-dict key -> how it is stored in a checkpoint."""
    plan = {key: StoredTensor(key, value.detach()) for key, value in model.state_dict().items()}
    for key in implied_zero_points(model):
        del plan[key]
    for name, quantizer in quantizers(model):
        key = f"{name}.scale"
        if quantizer.spec.step_dtype is not None and key in plan:
            plan[key] = StoredTensor(key, plan[key].tensor.to(_FLOAT_DTYPES[quantizer.spec.step_dtype]))
    for name, layer in quant_layers(model):
        quantizer = layer.weight_quant
        key = f"{name}.weight"
        if quantizer is None or key not in plan:
            continue
        weight = layer.weight.detach()
        if quantizer.spec.is_float:
            stored = weight.to(_FLOAT_DTYPES[quantizer.spec.float_dtype])
            plan[key] = StoredTensor(key, stored, quantized=True)
        elif quantizer.has_integer_codes and quantizer.is_initialized:
            codes = quantizer.int_codes(weight)
            plan[key] = StoredTensor(
                key + CODES_SUFFIX,
                pack_codes(codes, quantizer.spec.bits),
                bits=quantizer.spec.bits,
                signed=quantizer.spec.signed,
                numel=codes.numel(),
                shape=tuple(codes.shape),
                quantized=True,
            )
    return plan


def implied_zero_points(model: nn.Module) -> list[str]:
    """Zero-point keys of symmetric quantizers: always zero, so checkpoints leave them out
    (for int4 blocks of 128 they would otherwise add 25 % to the codes' bytes)."""
    return [
        f"{name}.zero_point"
        for name, quantizer in quantizers(model)
        if quantizer.spec.symmetric and hasattr(quantizer, "zero_point") and not bool(quantizer.zero_point.any())
    ]


def save_quantized(model: nn.Module, path: str | Path, extra_metadata: Optional[dict[str, Any]] = None) -> None:
    """Write ``model`` (after ``quantize``) so that ``load_quantized`` reproduces it bit for bit
    (steps with a ``step_dtype`` are rounded to it in ``model`` first: ``snap_steps``)."""
    calls = getattr(model, QUANT_STATE_ATTR, None)
    if not calls and not is_quantized(model):
        raise VidquantError("model was not quantized with vidquant.quantize; nothing to save")
    calls = calls or submodule_calls(model)  # a submodule of a quantized model: its layers by name
    for name, layer in quant_layers(model):
        if layer.weight_quant is not None and not layer.weight_quant.is_initialized:
            layer.weight_quant.initialize_from(layer.weight.detach())
    snap_steps(model)
    plan = storage_plan(model)
    codes = {
        entry.key: {"bits": entry.bits, "signed": entry.signed, "numel": entry.numel, "shape": list(entry.shape)}
        for entry in plan.values()
        if entry.bits is not None
    }
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "quantization": json.dumps(calls),
        "codes": json.dumps(codes),
        "extra": json.dumps(extra_metadata or {}),
    }
    model_info = getattr(model, "vidquant_model", None)
    if model_info is not None:
        metadata["model"] = json.dumps(model_info)
    write_safetensors(path, {entry.key: entry.tensor for entry in plan.values()}, metadata)


def read_header(path: str | Path) -> dict[str, Any]:
    """The checkpoint's metadata, decoded; a one-line error if it is not a vidquant checkpoint."""
    return _decode_metadata(Path(path), read_safetensors_metadata(path))


def load_quantized(model: nn.Module, path: str | Path) -> nn.Module:
    """Quantize the float ``model`` as recorded in the file and load its state (no re-initialization)."""
    path = Path(path)
    tensors, raw_metadata = read_safetensors(path)
    header = _decode_metadata(path, raw_metadata)
    model = replay_quantization(model, header["quantization"])
    expected = model.state_dict()
    plain = {key: value for key, value in tensors.items() if not key.endswith(CODES_SUFFIX)}
    implied = set(implied_zero_points(model))  # a fresh model's symmetric zero points are zero
    missing = [key for key in expected if key not in plain and key + CODES_SUFFIX not in tensors and key not in implied]
    unexpected = [key for key in plain if key not in expected]
    if missing or unexpected:
        detail = "; ".join(
            part for part in (_listing("missing", missing), _listing("unexpected", unexpected)) if part
        )
        raise VidquantError(f"{path} does not match the model: {detail}")
    _check_shapes(path, expected, plain)
    model.load_state_dict({key: value.to(expected[key].dtype) for key, value in plain.items()}, strict=False)
    _load_codes(model, tensors, header["codes"])
    object.__setattr__(model, WEIGHTS_FROM_FILE_ATTR, True)
    return model


def _load_codes(model: nn.Module, tensors: dict[str, torch.Tensor], layouts: dict[str, Any]) -> None:
    layers = dict(quant_layers(model))
    for stored_key, layout in layouts.items():
        layer_name = stored_key[: -len(CODES_SUFFIX)].rpartition(".")[0]
        layer = layers[layer_name]
        codes = unpack_codes(tensors[stored_key], layout["bits"], layout["numel"], layout["signed"])
        weight = layer.weight_quant.dequantize_codes(codes.reshape(layout["shape"]))
        with torch.no_grad():
            layer.weight.copy_(weight)


def _decode_metadata(path: Path, metadata: dict[str, str]) -> dict[str, Any]:
    if metadata.get("format") != FORMAT_NAME:
        raise VidquantError(f"{path} is not a vidquant checkpoint (no '{FORMAT_NAME}' header)")
    version = int(metadata.get("format_version", "0"))
    if version > FORMAT_VERSION:
        raise VidquantError(f"{path} has checkpoint format {version}; this vidquant reads up to {FORMAT_VERSION}")
    try:
        return {
            "quantization": json.loads(metadata["quantization"]),
            "codes": json.loads(metadata.get("codes", "{}")),
            "extra": json.loads(metadata.get("extra", "{}")),
            "model": json.loads(metadata["model"]) if "model" in metadata else None,
        }
    except (KeyError, json.JSONDecodeError) as error:
        raise VidquantError(f"{path} has a damaged vidquant header ({error})") from None


def _check_shapes(path: Path, expected: dict[str, torch.Tensor], loaded: dict[str, torch.Tensor]) -> None:
    wrong = [
        f"{key} {tuple(value.shape)} != {tuple(expected[key].shape)}"
        for key, value in loaded.items()
        if tuple(value.shape) != tuple(expected[key].shape)
    ]
    if wrong:
        raise VidquantError(f"{path} does not match the model: shape mismatch {', '.join(wrong[:5])}")


def _listing(label: str, keys: list[str]) -> str:
    if not keys:
        return ""
    more = f" (+{len(keys) - 5} more)" if len(keys) > 5 else ""
    return f"{label} {', '.join(keys[:5])}{more}"
