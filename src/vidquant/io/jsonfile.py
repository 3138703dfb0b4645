"""JSON files: reading with one-line errors that name the file, writing only valid JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vidquant.errors import VidquantError


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise VidquantError(f"{path}: no such file")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise VidquantError(f"{path}: not valid JSON ({error})") from None


def write_json(path: str | Path, data: Any, indent: int = 2) -> Path:
    """Write ``data`` as JSON; a NaN or infinite number (which ``json`` would write as the bare,
    invalid ``NaN`` / ``Infinity``) is a one-line error and nothing is written."""
    path = Path(path)
    try:
        text = json.dumps(data, indent=indent, allow_nan=False)
    except ValueError as error:
        raise VidquantError(f"{path}: the result holds a NaN or infinite number; not written ({error})") from None
    path.write_text(text + "\n")
    return path
