"""``vidquant recipes``: the built-in recipes, one line each (or one recipe in full as JSON)."""

from __future__ import annotations

import argparse
import json

from vidquant.quant.recipes import list_recipes, resolve_recipe


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "recipes", help="list the built-in quantization recipes",
        description="List the built-in quantization recipes, one line each (name, whether ONNX Runtime runs it "
                    "as integer kernels, description), or print one recipe in full as JSON. "
                    "A JSON file with the same fields works wherever a recipe name does.",
    )
    parser.add_argument("name", nargs="?", help="print this recipe (name or JSON file) in full as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.name:
        print(json.dumps(resolve_recipe(args.name).to_dict(), indent=2))
        return 0
    recipes = list_recipes()
    width = max(len(recipe.name) for recipe in recipes)
    for recipe in recipes:
        integer = "ORT integer: yes" if recipe.integer_deployment[0] else "ORT integer: no "
        print(f"{recipe.name.ljust(width)}  {integer}  {recipe.description}")
    return 0
