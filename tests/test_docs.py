"""The docs cannot drift from the code: the recipes page is the registered recipes, the INT8 codec
tables are the result files, links resolve."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from vidquant.quant import list_recipes

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]


def _load(path: Path):
    """A script that is not in a package (docs/, benchmarks/) as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _generator():
    return _load(DOCS / "make_recipes_md.py")


def test_recipes_page_lists_every_registered_recipe():
    text = (DOCS / "recipes.md").read_text()
    listed = re.findall(r"^\| `([^`]+)` \|", text, flags=re.MULTILINE)
    assert listed[: len(list_recipes())] == [recipe.name for recipe in list_recipes()]


def test_recipes_page_is_the_generator_output():
    generator = _generator()
    text = (DOCS / "recipes.md").read_text()
    assert generator.replace_block(text, generator.generated_block()) == text, (
        "docs/recipes.md is out of date: run PYTHONPATH=src python docs/make_recipes_md.py --write"
    )


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_relative_links_resolve(page):
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text())
    missing = [t for t in targets if "://" not in t and not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"


def test_readme_links_every_docs_page():
    readme = (REPO / "README.md").read_text()
    unlinked = [page.name for page in DOCS.glob("*.md") if f"(docs/{page.name})" not in readme]
    assert not unlinked, f"README.md does not link {unlinked}"


@pytest.mark.parametrize("page, block", [("README.md", "readme_block"), ("docs/codec-int8.md", "doc_block")])
def test_codec_int8_tables_are_the_result_files(page, block, monkeypatch):
    monkeypatch.chdir(REPO)  # the block names the folder as run.sh passes it
    summary_module = _load(REPO / "benchmarks" / "codec_int8_summary.py")
    folder = Path("results/codec")
    summary = json.loads((folder / "bd.json").read_text())
    text = (REPO / page).read_text()
    expected = getattr(summary_module, block)(folder, summary)
    assert expected in text, (
        f"{page}'s INT8 codec tables differ from results/codec: run "
        f"PYTHONPATH=src python benchmarks/codec_int8_summary.py results/codec --readme README.md --doc docs/codec-int8.md"
    )



def test_readme_lists_every_registered_recipe():
    readme = (REPO / "README.md").read_text()
    listed = re.search(r"^Built-in recipes \(`vidquant recipes`\): (.*?)\. ", readme, flags=re.MULTILINE | re.DOTALL)
    assert listed, "README.md has no 'Built-in recipes (`vidquant recipes`): ...' line"
    assert re.findall(r"`([a-z0-9-]+)`", listed.group(1)) == [recipe.name for recipe in list_recipes()]
