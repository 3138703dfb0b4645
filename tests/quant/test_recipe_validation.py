"""Recipe JSON with a wrong type in any field is a one-line error naming the field (never a
traceback, never accepted: ``"bits": 8.5`` used to be exported as it was)."""

from __future__ import annotations

import json

import pytest

from vidquant.errors import VidquantError
from vidquant.quant import QuantSpec
from vidquant.quant.recipes import RECIPES, load_recipe_file

CASES = [  # (path of the field, wrong value, words the message must hold)
    (("weight", "bits"), 8.5, "bits must be an integer, got 8.5"),
    (("weight", "bits"), "8", 'bits must be an integer, got "8"'),
    (("weight", "bits"), None, "bits must be an integer, got null"),
    (("weight",), "int8", "quantizer spec must be a JSON object"),
    (("weight", "granularity"), 3, "granularity must be a JSON object"),
    (("weight", "granularity"), {"kind": "per_block", "block_size": "a"}, "block_size must be an integer"),
    (("weight", "granularity"), {"kind": "per_channel", "blocks": 3}, "unknown field(s) blocks"),
    (("weight", "granularity", "kind"), [], "unknown granularity []"),  # found by benchmarks/fuzz.py
    (("weight", "granularity", "kind"), {}, "unknown granularity {}"),
    (("weight", "symmetric"), "yes", "symmetric must be true or false"),
    (("weight", "percentile"), True, "percentile must be a number"),
    (("weight", "step_dtype"), 16, "step_dtype must be a string or null"),
    (("layer_types",), "Conv2d", "layer_types must be a list of layer type names"),
    (("scope",), 7, "scope must be a string"),
    (("version",), "1", "version must be an integer"),
    (("description",), None, "description must be a string"),
]


def _recipe_with(path: tuple[str, ...], value) -> dict:
    data = RECIPES.get("w8a8-lsq").to_dict()
    data["name"] = "mine"
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize("path, value, words", CASES, ids=[f"{'.'.join(c[0])}={c[1]!r}" for c in CASES])
def test_a_wrong_type_is_one_line_naming_the_field(tmp_path, path, value, words):
    file = tmp_path / "recipe.json"
    file.write_text(json.dumps(_recipe_with(path, value)))
    with pytest.raises(VidquantError) as caught:
        load_recipe_file(file)
    message = str(caught.value)
    assert words in message and "\n" not in message and "'mine'" in message


def test_well_typed_recipes_still_load(tmp_path):
    for recipe in RECIPES.names():
        file = tmp_path / f"{recipe}.json"
        file.write_text(json.dumps(RECIPES.get(recipe).to_dict()))
        assert load_recipe_file(file) == RECIPES.get(recipe)
    assert QuantSpec(bits=4, percentile=99).percentile == 99  # an integer is a number
