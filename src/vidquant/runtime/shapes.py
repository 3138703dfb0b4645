"""The one input-shape check of every runtime wrapper (ONNX Runtime, LiteRT): a one-line error."""

from __future__ import annotations

from typing import Sequence

from vidquant.errors import VidquantError


def check_input_shape(name: str, declared: Sequence[object], shape: Sequence[int], what: str = "graph") -> None:
    """Fail in one line unless ``shape`` fits ``declared`` (non-integer entries match any size)."""
    fits = len(declared) == len(shape) and all(
        not isinstance(dim, int) or dim == size for dim, size in zip(declared, shape)
    )
    if not fits:
        expected = "x".join(str(dim) if isinstance(dim, int) else "?" for dim in declared)
        raise VidquantError(
            f"input {name!r} has shape {'x'.join(map(str, shape)) or 'scalar'}; the {what} expects {expected}"
        )
