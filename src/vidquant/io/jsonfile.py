"""Reading JSON inputs with one-line errors that name the file."""

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
