"""Acceptance 5: quantizer arithmetic stays float32 under bfloat16 autocast."""

import torch

from vidquant import quantize
from vidquant.calibrate import calibrate_ptq
from vidquant.models import create_model
from vidquant.models.tiny import example_batches
from vidquant.quant import quant_layers


def test_fake_quantized_weights_identical_under_bf16_autocast():
    model = quantize(create_model("tiny-convnet"), "w4a8-lsq")
    calibrate_ptq(model, example_batches(2))
    plain = {name: layer.quantized_weight().detach() for name, layer in quant_layers(model) if hasattr(layer, "weight")}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = {name: layer.quantized_weight().detach() for name, layer in quant_layers(model) if hasattr(layer, "weight")}
        output = model(example_batches(1)[0])
    assert all(mixed[name].dtype == torch.float32 and torch.equal(mixed[name], plain[name]) for name in plain)
    assert torch.isfinite(output.float()).all()


def test_uninitialized_quantizer_initializes_identically_under_autocast():
    batch = example_batches(1)[0]
    a = quantize(create_model("tiny-convnet"), "w8a8-lsq")
    b = quantize(create_model("tiny-convnet"), "w8a8-lsq")
    a(batch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        b(batch)
    for (name, qa), (_, qb) in zip(quant_layers(a), quant_layers(b)):
        if qa.weight_quant is not None:
            assert torch.equal(qa.weight_quant.scale, qb.weight_quant.scale), name
