"""One registry type for recipes, models, exporters and metrics (name -> object)."""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from vidquant.errors import VidquantError

T = TypeVar("T")


def closest_names(name: str, candidates: list[str], n: int = 3) -> list[str]:
    """The candidates most similar to ``name`` (for 'did you mean' messages)."""
    return difflib.get_close_matches(name, candidates, n=n, cutoff=0.3)


class Registry(Generic[T]):
    """Named entries of one kind; unknown names fail in one line with near matches."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise VidquantError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def decorator(self, name: str) -> Callable[[T], T]:
        """``@registry.decorator("name")`` registers the decorated object."""
        return lambda entry: self.register(name, entry)

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            valid = ", ".join(self.names())
            near = closest_names(name, self.names())
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise VidquantError(f"unknown {self.kind} {name!r}{hint}; valid: {valid}") from None

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)
