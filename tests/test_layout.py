"""The architecture rules, checked on the source: core never imports a model family or the CLI."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "vidquant"
CORE = ["quant", "calibrate", "analysis", "io", "metrics", "export", "runtime"]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _files(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py")) if (SRC / package).exists() else []


@pytest.mark.parametrize("package", CORE)
def test_core_never_imports_models_or_cli(package):
    for path in _files(package):
        bad = {name for name in _imports(path) if name.startswith(("vidquant.models", "vidquant.cli"))}
        assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)}"


def test_model_families_never_import_the_cli():
    for path in _files("models"):
        bad = {name for name in _imports(path) if name.startswith("vidquant.cli")}
        assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)}"
