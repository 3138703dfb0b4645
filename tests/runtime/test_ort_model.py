"""OrtModel runs exported graphs like the PyTorch module: same inputs, same outputs, one-line errors."""

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from tests.runtime.graphs import tiny_input, tiny_model
from vidquant.errors import VidquantError
from vidquant.runtime import OrtModel


def test_float_export_matches_pytorch(float_onnx):
    x = tiny_input(seed=5)
    with torch.no_grad():
        expected = tiny_model()(x)
    got = OrtModel(float_onnx, threads=1).eval()(x)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32 and got.shape == expected.shape
    assert ((got - expected).norm() / expected.norm()).item() <= 1e-5


def _float16_conv_graph(path, weight: np.ndarray) -> None:
    """x (float16) -> Cast float -> Conv -> Cast float16 -> y, and a second output y + 1 in float16."""
    nodes = [
        helper.make_node("Cast", ["x"], ["x32"], to=TensorProto.FLOAT),
        helper.make_node("Conv", ["x32", "w"], ["y32"], pads=[1, 1, 1, 1]),
        helper.make_node("Cast", ["y32"], ["y"], to=TensorProto.FLOAT16),
        helper.make_node("Add", ["y32", "one"], ["z32"]),
        helper.make_node("Cast", ["z32"], ["z"], to=TensorProto.FLOAT16),
    ]
    graph = helper.make_graph(
        nodes, "fp16",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [1, 2, 8, 8])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT16, [1, 3, 8, 8]) for name in ("y", "z")],
        initializer=[numpy_helper.from_array(weight, "w"), numpy_helper.from_array(np.ones(1, np.float32), "one")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def test_float16_graph_takes_float32_and_gives_it_back(tmp_path):
    weight = torch.randn(3, 2, 3, 3)
    _float16_conv_graph(tmp_path / "fp16.onnx", weight.numpy())
    model = OrtModel(tmp_path / "fp16.onnx")
    x = torch.randn(1, 2, 8, 8)
    y, z = model(x)
    expected = torch.nn.functional.conv2d(x.half().float(), weight, padding=1)
    assert y.dtype == torch.float32 and z.dtype == torch.float32
    assert torch.allclose(y, expected, rtol=2e-3, atol=2e-3)
    assert torch.allclose(z, expected + 1, rtol=2e-3, atol=2e-3)
    y16, _ = model(x.half())
    assert y16.dtype == torch.float16
    assert torch.equal(y16, y.half())


def test_numpy_inputs_give_graph_dtype_tensors(float_onnx):
    out = OrtModel(float_onnx)(tiny_input().numpy())
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32


@pytest.mark.parametrize(
    "make_call, message",
    [
        (lambda m: m(), "takes 1 input(s) (input0), got 0"),
        (lambda m: m(tiny_input(), tiny_input()), "takes 1 input(s) (input0), got 2"),
        (lambda m: m(torch.rand(1, 3, 16, 16)), "input 'input0' has shape 1x3x16x16; the graph expects 1x3x32x32"),
        (lambda m: m(torch.rand(3, 32, 32)), "input 'input0' has shape 3x32x32; the graph expects 1x3x32x32"),
    ],
)
def test_wrong_inputs_are_one_line_errors(float_onnx, make_call, message):
    with pytest.raises(VidquantError) as caught:
        make_call(OrtModel(float_onnx))
    assert str(caught.value).endswith(message)
    assert "\n" not in str(caught.value)


def test_missing_and_damaged_files_are_one_line_errors(tmp_path):
    with pytest.raises(VidquantError, match="nothing.onnx does not exist"):
        OrtModel(tmp_path / "nothing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(VidquantError, match="junk.onnx: ONNX Runtime cannot load it") as caught:
        OrtModel(tmp_path / "junk.onnx")
    assert "\n" not in str(caught.value)


def test_unknown_provider_names_the_available_ones(float_onnx):
    with pytest.raises(VidquantError, match=r"NoSuchExecutionProvider not available; available: .*CPUExecutionProvider"):
        OrtModel(float_onnx, providers=["NoSuchExecutionProvider"])
    assert OrtModel(float_onnx, providers=["CPUExecutionProvider"]).providers == ["CPUExecutionProvider"]
