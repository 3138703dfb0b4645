"""Installed size of what the deployed decoder needs against the full toolkit's dependencies.

Sums the files that pip recorded for each installed distribution (``importlib.metadata``), over
the dependency closure of (a) the bundle decoder's imports, ``onnxruntime``, ``numpy`` and
``constriction``, and (b) every runtime dependency of ``vidquant`` (pyproject.toml), torch included.
Extras and markers that do not apply to this interpreter are skipped; sizes are of the installed
files (the .pyc caches written later included where present), in MB (1e6 bytes).

    PYTHONPATH=src python benchmarks/deploy_footprint.py
"""

from __future__ import annotations

import json
import re
import sys
from importlib import metadata
from pathlib import Path

DEPLOY = ("onnxruntime", "numpy", "constriction")
REPO = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[ ;<>=!~\[(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _applies(requirement: str) -> bool:
    """False for requirements behind an extra, or a marker that is false here."""
    if ";" not in requirement:
        return True
    marker = requirement.split(";", 1)[1]
    if "extra" in marker:
        return False
    try:
        from packaging.markers import Marker

        return Marker(marker).evaluate()
    except Exception:  # noqa: BLE001 - no packaging, or an odd marker: count it
        return True


def closure(roots: list[str]) -> list[str]:
    seen: set[str] = set()
    todo = [_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        todo += [_name(r) for r in dist.requires or [] if _applies(r)]
    return sorted(seen)


def installed_mb(name: str) -> float:
    dist = metadata.distribution(name)
    total = 0
    for file in dist.files or []:
        path = Path(dist.locate_file(file))
        if path.is_file():
            total += path.stat().st_size
    return total / 1e6


def project_dependencies() -> list[str]:
    text = (REPO / "pyproject.toml").read_text()
    block = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    return [_name(item) for item in re.findall(r'"([^"]+)"', block)]


def main() -> None:
    report = {}
    for label, roots in (("bundle decoder (onnxruntime, numpy, constriction)", list(DEPLOY)),
                         ("full toolkit (vidquant's dependencies)", project_dependencies())):
        names = closure(roots)
        sizes = {name: round(installed_mb(name), 1) for name in names}
        report[label] = {"total_mb": round(sum(sizes.values()), 1), "distributions": sizes}
        print(f"{label}: {sum(sizes.values()):.0f} MB in {len(names)} distributions")
        for name, mb in sorted(sizes.items(), key=lambda item: -item[1])[:8]:
            print(f"  {name:24s} {mb:8.1f} MB")
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
