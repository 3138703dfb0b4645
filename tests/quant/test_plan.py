"""QuantPlan: the quantize() arguments it gives, and the families' plans as they were before it."""

from __future__ import annotations

import pytest

from vidquant.errors import VidquantError
from vidquant.models import create_model, model_plan
from vidquant.quant import LayerSpecs, QuantPlan, quant_layers, quantize, resolve_recipe
from vidquant.quant.api import QUANT_STATE_ATTR


def test_plan_gives_the_quantize_arguments():
    plan = QuantPlan("w4a8-lsq", include=("encoder.*",), exclude=("encoder.2",), overrides={"attention.q": "float"},
                     weight_bits={"encoder.0": 8}, float_inputs=("decoder.0",))
    args = plan.quantize_args()
    recipe = resolve_recipe("w4a8-lsq")
    assert args["recipe"] == recipe and args["include"] == ["encoder.*"] and args["exclude"] == ["encoder.2"]
    assert args["overrides"] == {
        "attention.q": "float",
        "encoder.0": LayerSpecs(weight=recipe.weight.with_bits(8), input=recipe.input, output=recipe.output),
        "decoder.0": LayerSpecs(weight=recipe.weight),
    }


def test_weight_bits_apply_only_where_the_recipe_is_narrower():
    assert QuantPlan("w8a8-lsq", weight_bits={"x": 8}).quantize_args()["overrides"] == {}
    assert QuantPlan("fp16", weight_bits={"x": 8}).quantize_args()["overrides"] == {}


def test_a_glob_in_two_roles_is_an_error():
    with pytest.raises(VidquantError, match="'x' is in both exclude and float_inputs"):
        QuantPlan("w8a8-lsq", exclude=("x",), float_inputs=("x",))


def test_applying_a_plan_records_the_same_call_as_the_explicit_arguments():
    plan = QuantPlan("w4a8-lsq", weight_bits={"decoder.2": 8}, float_inputs=("encoder.0",))
    a = quantize(create_model("tiny-convnet"), **plan.quantize_args())
    recipe = resolve_recipe("w4a8-lsq")
    b = quantize(create_model("tiny-convnet"), "w4a8-lsq", overrides={
        "decoder.2": LayerSpecs(weight=recipe.weight.with_bits(8), input=recipe.input, output=recipe.output),
        "encoder.0": LayerSpecs(weight=recipe.weight),
    })
    assert getattr(a, QUANT_STATE_ATTR) == getattr(b, QUANT_STATE_ATTR)
    layers = dict(quant_layers(a))
    assert layers["decoder.2"].weight_quant.spec.bits == 8 and layers["encoder.0"].input_quant is None


def test_codec_plan_keeps_the_picture_layers_at_8_bit_weights():
    from vidquant.models.codec.workflow.quantize_decoder import PICTURE_LAYERS, decoder_patterns, decoder_plan

    plan = model_plan("dcvc-rt-small", "w4a8-lsq")
    assert plan == decoder_plan("w4a8-lsq") and plan.include == tuple(decoder_patterns())
    recipe = resolve_recipe("w4a8-lsq")
    specs = LayerSpecs(weight=recipe.weight.with_bits(8), input=recipe.input, output=recipe.output)
    assert plan.quantize_args()["overrides"] == dict.fromkeys(PICTURE_LAYERS, specs)
    assert decoder_plan("w4a8-lsq", low_bit_picture_layers=True).quantize_args()["overrides"] == {}
    assert model_plan("dcvc-rt", "w8a8-static").include == model_plan("dcvc-rt-small", "w8a8-static").include


def test_uvq_plans_take_float_inputs_where_listed():
    plan = model_plan("uvq1p5-content", "dynamic-int8", fold_batchnorm=True)
    assert plan.float_inputs == ("features.0.0.conv",)
    model = quantize(create_model("uvq1p5-aggregation", fold_batchnorm=True),
                     **model_plan("uvq1p5-aggregation", "dynamic-int8").quantize_args())
    layers = dict(quant_layers(model))
    assert layers["conv1"].input_quant is None and layers["linear1"].input_quant is None
    assert layers["conv1"].weight_quant.spec.bits == 8
    assert model_plan("uvq1p5-distortion", "int4-block128") == QuantPlan("int4-block128")


def test_sci_plans_keep_the_shortcuts_the_network_has_at_8_bits():
    kwargs = {"units": 1, "fem_shortcut": True, "vrm_shortcut": True}
    plan = model_plan("efficientsci-cpu", "qsci-w2", **kwargs)
    assert plan.overrides == {"fem.*.shortcut*": "qsci-w8", "vrm.*.shortcut*": "qsci-w8"}
    assert model_plan("efficientsci-cpu", "qsci-w2").overrides == {}  # no shortcuts, no globs
    model = quantize(create_model("efficientsci-cpu", **kwargs), **plan.quantize_args())
    bits = {name: layer.weight_quant.spec.bits for name, layer in quant_layers(model) if layer.weight_quant is not None}
    assert {bits[name] for name in bits if ".shortcut" in name} == {8}
    assert {bits[name] for name in bits if ".shortcut" not in name} == {2}


def test_a_model_without_a_plan_for_a_recipe_says_which_it_has():
    with pytest.raises(VidquantError, match="no plan for recipe 'qsci-w4'; its recipes: dynamic-int8"):
        model_plan("uvq1p5-content", "qsci-w4")
    with pytest.raises(VidquantError, match="its recipes: none"):
        model_plan("uvq1p5", "fp16")
