"""Shared test helpers: where ../shared lives, and skipping cleanly when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


def shared_file(relative: str) -> Path:
    """Path under ../shared, or skip the test with a reason naming the missing path."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"needs {path} (../shared is not present)")
    return path


@pytest.fixture(autouse=True)
def _seed_everything():
    import torch

    torch.manual_seed(0)
    yield


def exact_int8_sums() -> bool:
    """True where ONNX Runtime's U8S8 kernels add int8 products exactly in int32 (VNNI / AMX). The
    AVX2 and AVX-512BW kernels first add pairs of products in int16 with saturation, which
    PyTorch's integer-kernel emulation (exact sums) does not reproduce where a pair exceeds 32767."""
    from vidquant.runtime.bench import machine_info

    return machine_info().int8_class in ("amx_int8", "avx512_vnni", "avx_vnni")
