"""How exported weights are stored: int4 blocks packed two a byte, float16 weights as float16,
dynamic-int8 through Q/DQ with per-channel weights and per-row input ranges (the numerics
PyTorch computes)."""

from dataclasses import replace

import onnx
import pytest
import torch
import torch.nn as nn
from onnx import numpy_helper

from vidquant import quantize
from vidquant.errors import VidquantError
from vidquant.export import export_onnx
from vidquant.quant import PerTensor, resolve_recipe
from vidquant.runtime import OrtModel


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1, groups=16)).eval()


def _tensors(path) -> list[onnx.TensorProto]:
    graph = onnx.load(str(path)).graph
    return [*graph.initializer, *(node.attribute[0].t for node in graph.node if node.op_type == "Constant")]


def _export(recipe, tmp_path, **kwargs):
    model = quantize(_model(), recipe)
    x = torch.randn(2, 8, 12, 12, generator=torch.Generator().manual_seed(1))
    result = export_onnx(model, [x], tmp_path / f"{getattr(recipe, 'name', recipe)}.onnx", **kwargs)
    with torch.no_grad():
        want = model(x)
    return result, float((OrtModel(result.path)(x) - want).abs().max())


def test_int4_blocks_are_packed_raw_bytes(tmp_path):
    result, error = _export("int4-block128", tmp_path)
    int4 = [t for t in _tensors(result.path) if t.data_type == onnx.TensorProto.INT4 and t.dims[0] == 16]
    codes = [t for t in int4 if len(t.dims) == 2 and t.dims[1] > 1]
    assert codes and all(not t.int32_data and len(t.raw_data) == (t.dims[0] * t.dims[1] + 1) // 2 for t in codes)
    assert error < 1e-5


def test_float16_weights_are_stored_as_float16(tmp_path):
    result, error = _export("fp16", tmp_path)
    dtypes = [numpy_helper.to_array(t).dtype for t in _tensors(result.path) if len(t.dims) == 4]
    assert [str(d) for d in dtypes] == ["float16", "float16"]
    assert any("float16" in note for note in result.notes)
    assert error < 1e-3


def test_dynamic_int8_qdq_path_reproduces_pytorch(tmp_path):
    ort_result, ort_error = _export("dynamic-int8", tmp_path)
    qdq_result, qdq_error = _export("dynamic-int8", tmp_path / "qdq", dynamic_path="qdq")
    ops = {node.op_type for node in onnx.load(str(qdq_result.path)).graph.node}
    assert {"ReduceMin", "ReduceMax", "Round"} <= ops and not ops & {"ConvInteger", "DynamicQuantizeLinear"}
    assert qdq_error < 1e-5 < ort_error  # ORT's ConvInteger path has per-tensor conv weights and input ranges
    assert any("per row" in note for note in ort_result.notes)
    with pytest.raises(VidquantError, match="dynamic_path"):
        _export("dynamic-int8", tmp_path, dynamic_path="fast")


def test_per_tensor_dynamic_inputs_export_as_dynamic_quantize_linear(tmp_path):
    recipe = replace(resolve_recipe("dynamic-int8"), name="dynamic-int8-tensor",
                     input=replace(resolve_recipe("dynamic-int8").input, granularity=PerTensor()))
    result, error = _export(recipe, tmp_path, dynamic_path="qdq")
    ops = {node.op_type for node in onnx.load(str(result.path)).graph.node}
    assert "DynamicQuantizeLinear" in ops and "ReduceMin" not in ops
    assert error < 1e-5
