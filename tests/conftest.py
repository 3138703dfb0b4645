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
