"""What a model computes, named and digested: the numerics it runs and a fingerprint of it.

A coded stream decodes only on a decoder that computes the encoder's numbers bit for bit, so
streams record ``describe(model)`` (readable) and ``fingerprint(model)`` (exact): a BLAKE2b
digest of the numerics identifier, the recorded ``quantize`` calls (recipes, plans) and every
tensor of the state dict (names, dtypes, shapes and bytes: float weights, integer weight codes,
steps, zero points). It is computed once per model and kept until a tensor changes (PyTorch's
version counters), so a coding loop may ask for it at every stream.
"""

from __future__ import annotations

import hashlib
import json
import weakref

import torch
import torch.nn as nn

from vidquant.quant.api import QUANT_STATE_ATTR

FINGERPRINT_BYTES = 16
FLOAT_NUMERICS = "float32"
# Graph-scope students: ONNX Runtime's integer-kernel arithmetic (vidquant.quant.integer_kernels).
# Bump the number whenever that arithmetic changes (rounding, requantization, clamping, ranges).
# 2: weight codes of graph-scope recipes within 7 bits (exact int16 pair sums on AVX2 kernels).
INTEGER_NUMERICS = "integer-kernels/2"
# Layer-scope students: float32 fake-quant arithmetic (PyTorch only).
FAKE_QUANT_NUMERICS = "fake-quant/1"

_PINNED_ATTR = "_vidquant_pinned_fingerprint"
_CACHE: "weakref.WeakKeyDictionary[nn.Module, tuple[tuple, bytes]]" = weakref.WeakKeyDictionary()


def quantize_calls(model: nn.Module) -> list[dict]:
    """The ``quantize`` calls recorded on ``model`` (empty for a float model)."""
    return list(getattr(model, QUANT_STATE_ATTR, None) or [])


def numerics(model: nn.Module) -> str:
    """The arithmetic ``model`` runs: float32, integer kernels (every call graph scope) or fake quant."""
    calls = quantize_calls(model)
    if not calls:
        return FLOAT_NUMERICS
    if all(call["recipe"].get("scope") == "graph" for call in calls):
        return INTEGER_NUMERICS
    return FAKE_QUANT_NUMERICS


def describe(model: nn.Module) -> str:
    """``float32``, or the recipes and numerics of a quantized model, e.g. ``w8a8-static (integer-kernels/2)``."""
    calls = quantize_calls(model)
    if not calls:
        return FLOAT_NUMERICS
    names = list(dict.fromkeys(call["recipe"]["name"] for call in calls))
    return f"{'+'.join(names)} ({numerics(model)})"


def fingerprint(model: nn.Module) -> bytes:
    """``FINGERPRINT_BYTES``-byte digest of what ``model`` computes (see the module docstring)."""
    pinned = model.__dict__.get(_PINNED_ATTR)
    if pinned is not None:
        return pinned
    state, calls, tag = model.state_dict(keep_vars=True), quantize_calls(model), numerics(model)
    key = (tag, len(calls), tuple((name, t.data_ptr(), t._version, tuple(t.shape)) for name, t in state.items()))
    cached = _CACHE.get(model)
    if cached is not None and cached[0] == key:
        return cached[1]
    digest = hashlib.blake2b(digest_size=FINGERPRINT_BYTES)
    digest.update(tag.encode())
    digest.update(json.dumps(calls, sort_keys=True, default=str).encode())
    for name, tensor in state.items():
        tensor = tensor.detach()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    value = digest.digest()
    _CACHE[model] = (key, value)
    return value


def pin_fingerprint(model: nn.Module) -> bytes:
    """Compute ``model``'s fingerprint now and keep it for good: for a model whose networks are
    about to move into another runtime that computes the same numbers (ONNX Runtime sessions
    exported from them), which renames or hides the tensors the digest reads."""
    value = fingerprint(model)
    model.__dict__[_PINNED_ATTR] = value
    return value
