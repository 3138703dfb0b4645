"""Graph-scope quantization: every tensor quantized once, exported graphs that run all-integer."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from vidquant.calibrate import calibrate_ptq
from vidquant.errors import VidquantError
from vidquant.export import export_onnx
from vidquant.quant import quantize
from vidquant.quant.checkpoint import load_quantized, save_quantized
from vidquant.quant.graph_scope import GRAPH_QUANT_PREFIX
from vidquant.quant.quantizer import FakeQuantizer
from vidquant.quant.recipes import resolve_recipe
from vidquant.runtime import OrtModel, deployability_report


class GatedBlock(nn.Module):
    """Conv, a gate (4x scaling, sigmoid, product), a residual add, a pixel shuffle with two readers."""

    example_input_shapes = ((1, 8, 12, 12),)

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 32, 1)
        self.depthwise = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.out = nn.Conv2d(8, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = nn.functional.pixel_shuffle(self.conv(x), 2)  # 8 channels, 2x size, read twice below
        gated = torch.sigmoid(4.0 * up) * up
        return self.out(self.depthwise(gated) + up)


def _calibrated(seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    model = GatedBlock().eval()
    x = torch.randn(GatedBlock.example_input_shapes[0])
    quantized = quantize(model, "w8a8-static")
    calibrate_ptq(quantized, [[x], [torch.randn_like(x)]])
    return quantized, x


def test_every_compute_output_and_input_gets_one_quantizer():
    quantized, _ = _calibrated()
    names = [name for name, m in quantized.named_modules() if isinstance(m, FakeQuantizer) and name.startswith(GRAPH_QUANT_PREFIX)]
    # x, conv, 4.0 constant, 4*up, sigmoid, product, depthwise, add, out; the shuffle reuses conv's
    assert len(names) == 9
    code = quantized.code.replace(" ", "")
    assert "self.graph_quant_1(conv)" in code and "self.graph_quant_1(pixel_shuffle)" in code
    weight_quantizers = [name for name, m in quantized.named_modules() if isinstance(m, FakeQuantizer) and name.endswith("weight_quant")]
    assert len(weight_quantizers) == 3


def test_float_model_is_not_changed_and_outputs_are_quantized_values():
    torch.manual_seed(0)
    model = GatedBlock().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    quantized = quantize(model, "w8a8-static")
    assert not any(isinstance(m, FakeQuantizer) for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    x = torch.randn(1, 8, 12, 12)
    calibrate_ptq(quantized, [[x]])
    with torch.no_grad():
        y, reference = quantized(x), model(x)
    last = quantized.get_submodule(sorted((n for n, _ in quantized.named_children() if n.startswith(GRAPH_QUANT_PREFIX)),
                                          key=lambda n: int(n.rsplit("_", 1)[-1]))[-1])
    codes = y / last.scale + last.zero_point
    assert torch.allclose(codes, codes.round(), atol=1e-3)  # on the last quantizer's grid
    assert (y - reference).abs().mean() < 0.05 * reference.abs().mean()


def test_export_runs_all_integer_and_matches_pytorch(tmp_path):
    quantized, x = _calibrated()
    path = export_onnx(quantized, [x], tmp_path / "gated.onnx").path
    report = deployability_report(path)
    assert report.fallbacks == []
    assert {"QLinearConv", "QLinearMul", "QLinearAdd", "QLinearSigmoid"} <= {node.op_type for node in report.nodes}
    got = OrtModel(path, optimize=False)(x)  # reference Q/DQ kernels, no fused integer kernels
    with torch.no_grad():
        expected = quantized(x)
    step = quantized.get_submodule("graph_quant_8").scale
    assert (got - expected).abs().max() <= step * 1.01  # at most one step (a rounding tie)
    assert (got - expected).abs().gt(step / 2).float().mean() < 0.01


def test_checkpoint_round_trip_rebuilds_the_traced_model(tmp_path):
    quantized, x = _calibrated()
    quantized.vidquant_model = None
    path = tmp_path / "gated.safetensors"
    save_quantized(quantized, path)
    torch.manual_seed(0)
    loaded = load_quantized(GatedBlock().eval(), path)
    with torch.no_grad():
        assert torch.equal(loaded(x), quantized(x))


def test_graph_scope_refuses_layer_selection_and_untraceable_models():
    with pytest.raises(VidquantError, match="graph scope"):
        quantize(GatedBlock(), "w8a8-static", exclude=["conv"])

    class DataDependent(nn.Module):
        example_input_shapes = ((1, 2),)

        def forward(self, x):
            return x * 2 if x.sum() > 0 else x

    with pytest.raises(VidquantError, match="torch.fx-traceable"):
        quantize(DataDependent(), "w8a8-static")


def test_include_traces_each_matching_submodule_in_place(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(GatedBlock(), nn.Conv2d(8, 8, 1)).eval()
    x = torch.randn(1, 8, 12, 12)
    with torch.no_grad():
        middle = model[0](x)
    quantized = quantize(model, "w8a8-static", include=["0", "1"], example_inputs={"0": [x], "1": [middle]})
    assert quantized is model
    assert isinstance(model[0], torch.fx.GraphModule) and type(model[1]).__name__ == "QuantConv2d"
    assert model[1].input_quant is not None and model[1].output_quant is not None  # a lone layer
    calibrate_ptq(model, [[x]])
    path = tmp_path / "seq.safetensors"
    save_quantized(model, path)
    torch.manual_seed(0)
    loaded = load_quantized(nn.Sequential(GatedBlock(), nn.Conv2d(8, 8, 1)).eval(), path)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_graph_recipe_needs_an_output_spec_and_no_input_spec():
    recipe = resolve_recipe("w8a8-static")
    assert recipe.scope == "graph" and recipe.to_dict()["scope"] == "graph"
    data = recipe.to_dict() | {"input": recipe.to_dict()["output"]}
    with pytest.raises(VidquantError, match="graph-scope recipe"):
        type(recipe).from_dict(data)
