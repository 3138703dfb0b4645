"""Typed checks of the plain-data fields of recipes, quantizer specs and granularities, so that a
recipe JSON with a wrong type is a one-line error naming the field, not a traceback or a silently
accepted value (``"bits": 8.5``)."""

from __future__ import annotations

import json
from typing import Any

from vidquant.errors import VidquantError

_WHAT = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def check_field(owner: str, name: str, value: Any, kind: type, optional: bool = False) -> None:
    """Refuse ``value`` unless it is of ``kind`` (``None`` too when ``optional``). Booleans are not
    integers or numbers here; integers are numbers."""
    if value is None and optional:
        return
    if kind is float:
        valid = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind is int:
        valid = isinstance(value, int) and not isinstance(value, bool)
    else:
        valid = isinstance(value, kind)
    if not valid:
        null = " or null" if optional else ""
        raise VidquantError(f"{owner}: {name} must be {_WHAT[kind]}{null}, got {shown(value)}")


def check_object(owner: str, value: Any, example: str) -> None:
    """Refuse a JSON value that should be an object, e.g. ``"weight": "int8"``."""
    if not isinstance(value, dict):
        raise VidquantError(f"{owner} must be a JSON object such as {example}, got {shown(value)}")


def shown(value: Any) -> str:
    """A value as the JSON it came from (null, true, "8"), else its repr."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
