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


FAMILIES = ["codec", "uvq", "sci", "tiny"]
TOP_LEVEL = ["__init__.py", "errors.py", "lazy.py", "registry.py"]


def _package_of(module: str) -> str:
    """'vidquant.models.codec.pipeline' -> 'models.codec'; 'vidquant.quant.api' -> 'quant'."""
    parts = module.split(".")[1:]
    if parts[:1] == ["models"] and len(parts) > 1:
        return "models." + parts[1]
    return parts[0] if parts else "vidquant"


def _internal_imports(path: Path) -> set[str]:
    return {_package_of(name) for name in _imports(path) if name.startswith("vidquant.")}


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level_modules_are_core_too(name):
    bad = {p for p in _internal_imports(SRC / name) if p.startswith(("models", "cli"))}
    assert not bad, f"{name} imports {sorted(bad)}"


@pytest.mark.parametrize("family", FAMILIES)
def test_model_families_never_import_each_other(family):
    files = _files(f"models/{family}") or [SRC / "models" / f"{family}.py"]
    for path in files:
        others = {p for p in _internal_imports(path) if p.startswith("models.") and p != f"models.{family}"}
        assert not others, f"{path.relative_to(SRC)} imports {sorted(others)}"


def test_core_packages_form_no_cycle():
    graph = {package: set() for package in CORE}
    for package in CORE:
        for path in _files(package):
            graph[package] |= {p for p in _internal_imports(path) if p in graph and p != package}
    done: set[str] = set()

    def visit(package: str, trail: tuple[str, ...]) -> None:
        assert package not in trail, f"import cycle: {' -> '.join(trail + (package,))}"
        if package not in done:
            for target in sorted(graph[package]):
                visit(target, trail + (package,))
            done.add(package)

    for package in CORE:
        visit(package, ())
