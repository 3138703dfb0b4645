"""quantize(): selection by glob and type, overrides, float exclusions, every layer type."""

import copy
import warnings

import pytest
import torch
import torch.nn as nn

from vidquant import quantize
from vidquant.errors import VidquantError
from vidquant.quant import (
    FLOAT,
    MatMul,
    QuantConv1d,
    QuantConv2d,
    QuantConv3d,
    QuantConvTranspose2d,
    QuantLinear,
    QuantMatMul,
    list_recipes,
    resolve_recipe,
)


class AllLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(4, 6, 3, padding=1)
        self.c2 = nn.Conv2d(4, 6, 3, padding=1, groups=2)
        self.dw = nn.Conv2d(6, 6, 3, padding=1, groups=6)
        self.c3 = nn.Conv3d(4, 6, 3, padding=1)
        self.up = nn.ConvTranspose2d(6, 4, 4, stride=2, padding=1)
        self.fc = nn.Linear(4, 5)
        self.mm = MatMul()

    def forward(self, x1, x2, x3):
        y1 = self.c1(x1).mean()
        y2 = self.up(self.dw(self.c2(x2)))
        y3 = self.c3(x3).mean()
        tokens = self.fc(y2.flatten(2).transpose(1, 2))
        return y1 + y3 + self.mm(tokens, tokens.transpose(1, 2)).mean() + y2.mean()


def _inputs():
    return torch.randn(2, 4, 16), torch.randn(2, 4, 8, 8), torch.randn(1, 4, 4, 6, 6)


@pytest.mark.parametrize("recipe", [r.name for r in list_recipes()])
def test_every_recipe_quantizes_every_layer_type_and_runs(recipe):
    model = quantize(AllLayers(), recipe, example_inputs=_inputs())
    types = {type(m) for m in model.modules()}
    expected = {QuantConv1d, QuantConv2d, QuantConv3d, QuantConvTranspose2d, QuantLinear}
    assert expected <= types
    assert (QuantMatMul in types) == ("MatMul" in resolve_recipe(recipe).layer_types)
    assert torch.isfinite(model(*_inputs())).all()


def test_state_dict_keeps_float_names_and_adds_quantizer_state():
    float_keys = set(AllLayers().state_dict())
    quant_keys = set(quantize(AllLayers(), "w8a8-lsq").state_dict())
    assert float_keys <= quant_keys
    assert "c2.weight_quant.scale" in quant_keys and "c2.input_quant.initialized" in quant_keys


def test_quantized_layer_shares_the_float_parameters():
    model = AllLayers()
    weight = model.c2.weight
    quantize(model, "weight-only-int8")
    assert model.c2.weight is weight


def test_include_exclude_and_types():
    model = quantize(AllLayers(), "weight-only-int8", include=["c*", "Linear"], exclude=["c3"])
    assert isinstance(model.c1, QuantConv1d) and isinstance(model.fc, QuantLinear)
    assert type(model.c3) is nn.Conv3d and type(model.up) is nn.ConvTranspose2d


def test_overrides_pick_another_recipe_or_keep_float():
    model = quantize(AllLayers(), "w4a8-lsq", overrides={"c1": "w8a8-lsq", "up": FLOAT, "fc": None})
    assert model.c1.weight_quant.spec.bits == 8 and model.c2.weight_quant.spec.bits == 4
    assert type(model.up) is nn.ConvTranspose2d and type(model.fc) is nn.Linear


def test_glob_matching_nothing_warns_with_closest_names():
    with pytest.warns(UserWarning, match=r"pattern 'fcc' matches no module; closest names: fc"):
        quantize(AllLayers(), "weight-only-int8", exclude=["fcc"])


def test_unknown_recipe_lists_valid_names():
    with pytest.raises(VidquantError, match=r"unknown recipe 'w8a8' .*valid: int8-lsq-w, w8a8-lsq"):
        quantize(AllLayers(), "w8a8")


def test_recipe_from_json_file_round_trips(tmp_path):
    recipe = resolve_recipe("qsci-w3")
    path = tmp_path / "mine.json"
    path.write_text(__import__("json").dumps(recipe.to_dict()))
    assert resolve_recipe(str(path)) == recipe


def test_fake_quant_output_close_to_float_at_8_bits():
    model = AllLayers()
    reference = model(*_inputs())
    with warnings.catch_warnings():
        quantized = quantize(copy.deepcopy(model), "dynamic-int8")
    assert torch.allclose(quantized(*_inputs()), reference, atol=0.05)
