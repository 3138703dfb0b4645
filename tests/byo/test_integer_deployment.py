"""The deployable W8A8 recipe (w8a8-static) on the foreign-style models: integer kernels on ONNX
Runtime for every Conv / ConvTranspose / Linear / MatMul, transposed convolutions in sub-pixel form."""

from __future__ import annotations

import copy

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn

from tests.byo.test_foreign_models import MODELS
from vidquant import calibrate_ptq, quantize, report
from vidquant.export import export_onnx
from vidquant.quant.integer_kernels import emulate_integer_kernels
from vidquant.quant.recipes import resolve_recipe
from vidquant.quant.subpixel import subpixel_conv_transpose, subpixel_weight
from vidquant.runtime.deployability import deployability_report

class _UpThenRelu(nn.Module):
    def __init__(self, up: nn.ConvTranspose2d) -> None:
        super().__init__()
        self.up = up

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.up(x))


TRANSPOSED = [(5, 2, 2, 1), (2, 2, 0, 0), (4, 2, 1, 0), (3, 2, 1, 1), (3, 3, 0, 2), (7, 4, 3, 3), (4, 2, 0, 1)]


def _static(name):
    model, batches, forward, _ = MODELS[name]()
    if name == "hyperprior":  # no forward: the decoder networks are traced one by one
        inputs = {"g_s": [batches[0][0]], "h_s": [batches[0][1]]}
        student = quantize(copy.deepcopy(model), "w8a8-static", include=["g_s", "h_s"], example_inputs=inputs)
    else:
        student = quantize(copy.deepcopy(model), "w8a8-static", example_inputs=batches[0])
    calibrate_ptq(student, batches, forward=forward)
    return student, batches, forward


def _output_steps(student, name):
    """The step of the quantizer that writes each output (graph scope: the last node's)."""
    graphs = [student.g_s, student.h_s] if name == "hyperprior" else [student]
    steps = []
    for graph in graphs:
        output = next(node for node in graph.graph.nodes if node.op == "output").args[0]
        for node in output if isinstance(output, (tuple, list)) else [output]:
            steps.append(float(graph.get_submodule(node.target).scale))
    return steps


def test_recipes_say_which_deploy_as_integer():
    assert resolve_recipe("w8a8-static").integer_deployment[0]
    assert not resolve_recipe("w8a8-lsq").integer_deployment[0]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_w8a8_static_runs_integer_kernels_within_one_step(name, tmp_path):
    student, batches, forward = _static(name)
    assert report(student, batches[0], forward=forward).float_matmuls == []  # graph scope quantizes @ too
    path = tmp_path / f"{name}.onnx"
    export_onnx(student, batches[1], path, forward=forward)
    deploy = deployability_report(path)
    assert deploy.integer_share >= 0.95, deploy.format()
    assert "ConvTranspose" not in deploy.op_counts["float"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = forward(student, batches[1]) if forward else student(*batches[1])
    expected = expected if isinstance(expected, (tuple, list)) else [expected]
    got = session.run(None, {i.name: x.numpy() for i, x in zip(session.get_inputs(), batches[1])})
    for out, want, step in zip(got, expected, _output_steps(student, name)):
        assert np.abs(out - want.numpy()).max() <= step * 1.0001


@pytest.mark.parametrize("kernel,stride,padding,output_padding", TRANSPOSED)
def test_subpixel_form_is_exact_in_float(kernel, stride, padding, output_padding):
    torch.manual_seed(kernel * 10 + stride)
    layer = nn.ConvTranspose2d(6, 5, kernel, stride, padding, output_padding=output_padding)
    x = torch.randn(2, 6, 7, 9)
    with torch.no_grad():
        want = layer(x)
        got = subpixel_conv_transpose(layer, x, subpixel_weight(layer.weight, stride),
                                      layer.bias.repeat_interleave(stride * stride))
    assert got.shape == want.shape
    assert float((got - want).abs().max()) <= 1e-5 * float(want.abs().max())


@pytest.mark.parametrize("kernel,stride,padding,output_padding", TRANSPOSED)
def test_subpixel_form_is_bit_exact_in_integers(kernel, stride, padding, output_padding, tmp_path):
    """ONNX Runtime's QLinearConv on the sub-pixel form = PyTorch's integer emulation of the
    transposed convolution (int32 accumulation, one float32 requantization)."""
    torch.manual_seed(kernel * 10 + stride)
    model = _UpThenRelu(nn.ConvTranspose2d(6, 5, kernel, stride, padding, output_padding=output_padding))
    batches = [torch.randn(1, 6, 7, 9) for _ in range(3)]
    student = quantize(model, "w8a8-static", example_inputs=batches[:1])
    calibrate_ptq(student, [[b] for b in batches])
    path = tmp_path / "t.onnx"
    export_onnx(student, batches[:1], path)
    deploy = deployability_report(path)
    assert deploy.op_counts["integer"].get("QLinearConv") == 1, deploy.format()
    emulated = copy.deepcopy(student)
    assert emulate_integer_kernels(emulated) == []
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in batches:
        with torch.no_grad():
            want = emulated(batch).numpy()
        np.testing.assert_array_equal(session.run(None, {session.get_inputs()[0].name: batch.numpy()})[0], want)


def test_deployability_report_gives_reason_and_fix_for_each_fallback(tmp_path):
    model, batches, forward, args = MODELS["hyperprior"]()
    student = quantize(copy.deepcopy(model), "w8a8-lsq", **args)
    calibrate_ptq(student, batches, forward=forward)
    export_onnx(student, batches[0], tmp_path / "h.onnx", forward=forward)
    deploy = deployability_report(tmp_path / "h.onnx")
    reasons = {node.op_type: (node.reason, node.fix) for node in deploy.fallbacks}
    assert reasons["ConvTranspose"][0] == "ONNX Runtime's CPU provider has no integer ConvTranspose"
    assert reasons["Conv"][0].startswith("its output is not quantized")
    assert all("w8a8-static" in fix for _, fix in reasons.values())
    assert "    why: " in deploy.format() and "; fix: " in deploy.format()
