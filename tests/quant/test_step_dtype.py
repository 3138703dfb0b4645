"""QuantSpec.step_dtype: step sizes stored as float16 in checkpoints, the model rounded to match on save."""

import dataclasses

import pytest
import torch
import torch.nn as nn

from vidquant import quantize
from vidquant.errors import VidquantError
from vidquant.io.checkpoint import read_safetensors
from vidquant.quant import QuantSpec, quantizers, resolve_recipe, snap_steps, snap_to_checkpoint
from vidquant.quant.checkpoint import load_quantized, save_quantized, storage_plan


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(8, 8, 3, groups=8), nn.ReLU(), nn.Conv2d(8, 4, 1)).eval()


def _quantized(recipe: str = "w8a8-lsq") -> nn.Module:
    model = quantize(_net(), recipe)
    with torch.no_grad():
        model(torch.randn(2, 8, 9, 9))  # steps from data
        for _, quantizer in quantizers(model):
            quantizer.scale.mul_(1.0 + 1e-3 * torch.rand_like(quantizer.scale))  # as after LSQ: not float16 values
    return model


def test_lsq_recipes_store_weight_steps_as_float16_and_reload_exactly(tmp_path):
    model = _quantized()
    path = tmp_path / "m.safetensors"
    save_quantized(model, path)
    tensors, _ = read_safetensors(path)
    assert tensors["0.weight_quant.scale"].dtype == torch.float16
    assert tensors["0.input_quant.scale"].dtype == torch.float32  # per-tensor activation steps stay float32
    assert sum(entry.nbytes for entry in storage_plan(model).values()) == sum(
        t.numel() * t.element_size() for t in tensors.values())
    loaded = load_quantized(_net(), path)
    for key, value in model.state_dict().items():  # float weights load as their codes; the rest as it is
        if not key.endswith(".weight"):
            assert torch.equal(value, loaded.state_dict()[key]), key  # save rounded the steps in place
    x = torch.randn(2, 8, 9, 9)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_snap_to_checkpoint_makes_memory_equal_the_file_state_for_state(tmp_path):
    model = _quantized()
    before = model[0].weight.detach().clone()
    snap_to_checkpoint(model)
    assert not torch.equal(model[0].weight, before)  # float weights became their codes
    path = tmp_path / "m.safetensors"
    save_quantized(model, path)
    loaded = load_quantized(_net(), path).state_dict()
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded[key]), key


def test_snap_steps_rounds_only_quantizers_with_a_step_dtype():
    model = _quantized()
    steps = {name: q.scale.detach().clone() for name, q in quantizers(model)}
    snap_steps(model)
    for name, quantizer in quantizers(model):
        if quantizer.spec.step_dtype is None:
            assert torch.equal(quantizer.scale, steps[name])
        else:
            assert not torch.equal(quantizer.scale, steps[name])
            assert torch.equal(quantizer.scale, steps[name].half().float())


def test_a_step_below_float16_range_is_kept_positive():
    model = _quantized()
    quantizer = model[0].weight_quant
    with torch.no_grad():
        quantizer.scale[0] = 1e-9  # a dead channel's step
    snap_steps(model)
    assert float(quantizer.scale.detach()[0]) == torch.finfo(torch.float16).tiny


def test_step_dtype_is_validated_and_recorded():
    with pytest.raises(VidquantError, match="unknown step_dtype"):
        QuantSpec(step_dtype="float8")
    with pytest.raises(VidquantError, match="stored integer steps"):
        QuantSpec(float_dtype="float16", step_dtype="float16")
    spec = resolve_recipe("w8a8-lsq").weight
    assert QuantSpec.from_dict(spec.to_dict()) == spec and spec.step_dtype == "float16"
    legacy = {k: v for k, v in spec.to_dict().items() if k != "step_dtype"}  # a file written before the field
    assert QuantSpec.from_dict(legacy) == dataclasses.replace(spec, step_dtype=None)
