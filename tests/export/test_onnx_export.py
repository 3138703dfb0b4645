"""ONNX export: checker passes, integer parity with PyTorch per op type, whole-model agreement."""

import copy

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn

from vidquant import calibrate_ptq, quantize
from vidquant.errors import VidquantError
from vidquant.export import export_onnx
from vidquant.models import create_model
from vidquant.models.tiny import example_batches
from vidquant.quant import LayerSpecs, MatMul, PerChannel, QuantSpec, list_recipes, snap_offsets
from vidquant.runtime import OrtModel

ACT = QuantSpec(bits=8, learn="step", observer="mse")
WEIGHT = QuantSpec(bits=8, granularity=PerChannel(), learn="step", observer="mse")
WITH_OUTPUT = LayerSpecs(weight=WEIGHT, input=ACT, output=ACT)


def _run(path, inputs):
    session = ort.InferenceSession(str(path))
    feeds = {arg.name: x.numpy() for arg, x in zip(session.get_inputs(), inputs)}
    return torch.from_numpy(session.run(None, feeds)[0])


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.mm = MatMul()

    def forward(self, q, k):
        return self.mm(q, k.transpose(-1, -2))


OPS = {
    "conv": (lambda: nn.Conv2d(16, 32, 3, padding=1), [(2, 16, 20, 20)]),
    "depthwise": (lambda: nn.Conv2d(16, 16, 3, padding=1, groups=16), [(2, 16, 20, 20)]),
    "grouped": (lambda: nn.Conv2d(16, 32, 3, padding=1, groups=4), [(2, 16, 12, 12)]),
    "transposed": (lambda: nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), [(2, 16, 10, 10)]),
    "linear": (lambda: nn.Linear(64, 48), [(4, 10, 64)]),
    "matmul": (Attention, [(2, 4, 10, 16), (2, 4, 10, 16)]),
}


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("activation_type", ["uint8", "int8"])
def test_integer_outputs_within_one_lsb_at_half_steps(tmp_path, op, activation_type):
    if op == "linear" and activation_type == "int8":
        pytest.skip("ONNX Runtime 1.32 rejects its own int8 Gemm rewrite of a 3-D Linear (uint8 works)")
    make, shapes = OPS[op]
    inputs = [torch.randn(shape) for shape in shapes]
    wrapper = quantize(nn.ModuleDict({"m": make()}), "w8a8-lsq", overrides={"m" if op != "matmul" else "m.mm": WITH_OUTPUT})
    model = wrapper["m"]
    target = model.mm if op == "matmul" else model
    calibrate_ptq(model, [tuple(inputs)])
    pre_quant = {}
    target.output_quant.register_forward_pre_hook(lambda _, args: pre_quant.update(y=args[0].detach()))
    reference = model(*inputs).detach()
    path = tmp_path / f"{op}.onnx"
    export_onnx(model, inputs, path, activation_type=activation_type)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    ours = _run(path, inputs)

    quantizer = target.output_quant
    lsb = ((ours - reference) / quantizer.scale.detach()).round().abs()
    assert lsb.max() <= 1
    assert (lsb > 0).float().mean() < 0.01
    scaled = pre_quant["y"] / quantizer.scale.detach()
    distance_to_half = ((scaled - scaled.floor()) - 0.5).abs()
    assert distance_to_half[lsb > 0].max() < 0.01 if (lsb > 0).any() else True


class CodecLike(nn.Module):
    """Conv, depthwise, transposed conv and ReLU: a synthesis transform in miniature."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(8, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 3, 3, padding=1),
        )

    def forward(self, x):
        return self.body(x)


@pytest.mark.parametrize("recipe", ["w8a8-lsq", "int8-lsq-w", "weight-only-int8", "int4-block128", "fp16"])
def test_whole_model_outputs_agree_within_1e_3(tmp_path, recipe):
    """Relative error as mean |ORT - PyTorch| / mean |PyTorch|: the rare 1-LSB flips at half
    steps cascade through four quantized layers (their L2 share is about 2e-3 at w8a8)."""
    torch.manual_seed(0)
    batches = [torch.randn(2, 8, 16, 16) for _ in range(3)]
    model = quantize(CodecLike(), recipe)
    calibrate_ptq(model, batches[:2])
    reference = model(batches[2]).detach()
    export_onnx(model, [batches[2]], tmp_path / "m.onnx")
    ours = _run(tmp_path / "m.onnx", [batches[2]])
    assert ((ours - reference).abs().mean() / reference.abs().mean()).item() <= 1e-3


@pytest.mark.parametrize("recipe", [r.name for r in list_recipes()])
def test_every_recipe_exports_and_passes_the_checker(tmp_path, recipe):
    batches = example_batches(3)
    model = quantize(create_model("tiny-convnet"), recipe)
    calibrate_ptq(model, batches[:2])
    snap_offsets(model)
    result = export_onnx(model, [batches[2]], tmp_path / "m.onnx")
    onnx.checker.check_model(onnx.load(str(result.path)), full_check=True)
    reference = model(batches[2]).detach()
    ours = _run(result.path, [batches[2]])
    assert torch.isfinite(ours).all() and ours.shape == reference.shape


def test_int4_blocks_are_stored_as_int4(tmp_path):
    model = quantize(nn.Sequential(nn.Linear(256, 64)), "int4-block128")
    result = export_onnx(model, [torch.randn(2, 256)], tmp_path / "m.onnx")
    graph = onnx.load(str(result.path))
    int4 = [t for t in graph.graph.initializer if t.data_type == onnx.TensorProto.INT4]
    int4 += [n.attribute[0].t for n in graph.graph.node if n.op_type == "Constant" and n.attribute[0].t.data_type == onnx.TensorProto.INT4]
    assert any(np.prod(t.dims) == 64 * 256 for t in int4)
    assert "int4 blocks" in " ".join(result.notes)


def test_float_model_exports_plain_with_a_note(tmp_path):
    result = export_onnx(create_model("tiny-convnet"), example_batches(1), tmp_path / "f.onnx")
    assert not result.quantized and "plain float graph" in result.notes[0]


def test_input_that_does_not_fit_fails_before_export(tmp_path):
    with pytest.raises(VidquantError, match=r"input shape 2x5x32x32 does not fit the model"):
        export_onnx(create_model("tiny-convnet"), [torch.randn(2, 5, 32, 32)], tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_export_leaves_the_model_unchanged(tmp_path):
    batches = example_batches(2)
    model = quantize(create_model("tiny-convnet"), "qsci-w4")
    calibrate_ptq(model, batches[:1])
    before = copy.deepcopy(model.state_dict())
    export_onnx(model, [batches[1]], tmp_path / "m.onnx")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(q.export_fn is None for q in model.modules() if hasattr(q, "export_fn"))


def test_per_row_dynamic_inputs_match_pytorch_in_onnx_runtime(tmp_path) -> None:
    """Stem (per image), depthwise (per channel) and 1x1 (per pixel) ranges computed by plain ONNX ops."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.SiLU(), nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.SiLU(),
                        nn.Conv2d(8, 4, 1)).eval()
    model = quantize(net, "dynamic-int8")
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    result = export_onnx(model, [x], tmp_path / "rows.onnx", dynamic_path="qdq")
    with torch.no_grad():
        expected = model(x)
    np.testing.assert_allclose(OrtModel(result.path, threads=1)(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("recipe", ["dynamic-int8", "int4-block128", "fp16"])
def test_compact_graph_is_smaller_and_computes_the_same_bits(tmp_path, recipe) -> None:
    """Short names and shared constants change bytes, not numerics (ONNX Runtime, bit for bit)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.SiLU(), nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.SiLU(),
                        nn.Conv2d(8, 4, 1)).eval()
    model = quantize(net, recipe)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    plain = export_onnx(model, [x], tmp_path / "plain.onnx", dynamic_path="qdq")
    small = export_onnx(model, [x], tmp_path / "small.onnx", dynamic_path="qdq", compact=True)
    graph = onnx.load(str(small.path))
    constants = [n.attribute[0].t for n in graph.graph.node if n.op_type == "Constant"]
    assert len({(t.data_type, tuple(t.dims), t.raw_data) for t in constants}) == len(constants)
    assert all(not node.name for node in graph.graph.node)
    assert small.size_bytes < plain.size_bytes
    assert torch.equal(OrtModel(small.path, threads=1)(x), OrtModel(plain.path, threads=1)(x))
