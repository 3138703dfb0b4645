"""Lazy re-exports for package ``__init__`` files (PEP 562), so that importing a package is cheap.

A package lists which of its modules defines each public name; the first use of a name
(``package.name`` or ``from package import name``) imports that module. ``vidquant``,
``vidquant.quant`` and ``vidquant.io`` use it so that ``import vidquant`` and the ``vidquant``
command's parser load no torch, ONNX, matplotlib or SciPy.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_exports(package: str, exports: dict[str, tuple[str, ...]]) -> tuple[Callable[[str], Any], list[str]]:
    """``(__getattr__, __all__)`` for ``package`` from ``{module: (name, ...)}``."""
    module_of = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in module_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module_of[name]), name)

    return __getattr__, sorted(module_of)
