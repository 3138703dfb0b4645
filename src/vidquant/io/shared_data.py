"""Where the shared data folder (conformance packs, real clips) is: ``$VIDQUANT_SHARED`` when
set, else the ``shared`` folder beside this checkout (``<checkout>/../shared``), else
``../shared`` from the current directory. Defaults found this way work from any directory."""

from __future__ import annotations

import os
from pathlib import Path

from vidquant.errors import VidquantError

ENV_VAR = "VIDQUANT_SHARED"
_CHECKOUT_SHARED = Path(__file__).resolve().parents[3].parent / "shared"  # src/vidquant/io/ -> checkout/..


def shared_root() -> Path:
    """The shared data folder (it may not exist: callers say "not found" with ``require_folder``)."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    if _CHECKOUT_SHARED.is_dir():
        return _CHECKOUT_SHARED
    return Path("..") / "shared"


def shared_path(*parts: str) -> Path:
    return shared_root().joinpath(*parts)


def require_folder(path: str | Path, what: str) -> Path:
    """``path`` if it is a folder; else a one-line "not found" naming it and how to point at it."""
    path = Path(path)
    if not path.is_dir():
        raise VidquantError(f"{what} {path} not found (give its folder, or set {ENV_VAR} to the shared data folder)")
    return path
