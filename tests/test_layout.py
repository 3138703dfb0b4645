"""The architecture rules, checked on the source: core never imports a model family or the CLI."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "vidquant"
CORE = ["quant", "calibrate", "analysis", "io", "metrics", "export", "runtime", "sweep"]


def _module_name(path: Path) -> str:
    """'src/vidquant/quant/api.py' -> 'vidquant.quant.api'; a package's __init__.py -> the package."""
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = SRC.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    return _imported_modules(path.read_text(), _module_name(path), is_package=path.name == "__init__.py")


def _imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Absolute names of the modules that ``source`` (the text of ``module``) imports. Relative imports
    resolve against the module's package (``from ..models import x`` in vidquant.quant.api is
    vidquant.models); ``from P import x`` names P.x where x is a module of P, else P."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            origin = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                names.add(f"{origin}.{alias.name}" if _is_module(f"{origin}.{alias.name}") else origin)
    return names


def _upward(names: set[str]) -> set[str]:
    """The imports a core module must not have: a model family or the CLI."""
    return {name for name in names if name.startswith(("vidquant.models", "vidquant.cli"))}


def test_relative_imports_resolve_to_the_modules_they_name():
    snippet = "from ..models import codec\nfrom .. import cli\nfrom . import api\nfrom .spec import QuantSpec\n"
    assert _imported_modules(snippet, "vidquant.quant.recipes") == {
        "vidquant.models.codec", "vidquant.cli", "vidquant.quant.api", "vidquant.quant.spec",
    }
    assert _imported_modules("from . import DCVCRT\n", "vidquant.models.codec", is_package=True) == {
        "vidquant.models.codec"
    }
    assert _imported_modules("from ...models.uvq import x\n", "vidquant.models.codec.train") == {"vidquant.models.uvq"}


def test_the_core_rule_sees_relative_imports():
    snippet = "from ..models import create_model\nfrom ..cli.main import main\nfrom .spec import QuantSpec\n"
    assert _upward(_imported_modules(snippet, "vidquant.quant.recipes")) == {"vidquant.models", "vidquant.cli.main"}


def _files(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py")) if (SRC / package).exists() else []


@pytest.mark.parametrize("package", CORE)
def test_core_never_imports_models_or_cli(package):
    for path in _files(package):
        bad = _upward(_imports(path))
        assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)}"


def test_model_families_never_import_the_cli():
    for path in _files("models"):
        bad = {name for name in _imports(path) if name.startswith("vidquant.cli")}
        assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)}"


FAMILIES = ["codec", "uvq", "sci", "tiny"]
TOP_LEVEL = ["__init__.py", "errors.py", "lazy.py", "registry.py"]


def _package_of(module: str) -> str:
    """'vidquant.models.codec.coding.pipeline' -> 'models.codec'; 'vidquant.quant.api' -> 'quant'."""
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


# The codec family by role: networks and entropy models (net), bitstreams and sequences (coding),
# what users run (workflow). Each role may import only the roles listed for it.
CODEC_ROLES = {"net": set(), "coding": {"net"}, "workflow": {"net", "coding"}}


@pytest.mark.parametrize("role", sorted(CODEC_ROLES))
def test_codec_roles_import_only_lower_roles(role):
    prefix = "vidquant.models.codec."
    files = _files(f"models/codec/{role}")
    assert files, f"models/codec/{role}/ holds no module"
    for path in files:
        used = {name[len(prefix):].split(".")[0] for name in _imports(path) if name.startswith(prefix)}
        bad = (used & set(CODEC_ROLES)) - CODEC_ROLES[role] - {role}
        assert not bad, f"{path.relative_to(SRC)} ({role}) imports {sorted(bad)}"


def test_the_deployed_decoder_imports_no_torch_and_no_model_family():
    """vidquant.deploy runs where PyTorch is not installed (codec decode --bundle): it may import
    numpy, onnxruntime, constriction and torch-free core modules (errors, lazy, io's readers and
    writers), never torch, a model family or the CLI (tests/codec/test_bundle.py runs it with
    torch unimportable)."""
    files = _files("deploy")
    assert files, "deploy/ holds no module"
    for path in files:
        bad = {name for name in _imports(path)
               if name.split(".")[0] in ("torch", "scipy") or name.startswith(("vidquant.models", "vidquant.cli"))}
        assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)}"
