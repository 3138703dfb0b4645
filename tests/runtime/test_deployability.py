"""The deployability report reads ONNX Runtime's optimized graph: QLinearConv counts as integer,
a convolution left out of quantization is listed by name as a float fallback."""

import json

import onnx
import pytest

from tests.runtime.graphs import EXCLUDED_CONV
from vidquant.errors import VidquantError
from vidquant.runtime import classify_op, deployability_report
from vidquant.runtime.deployability import FLOAT, INTEGER, OTHER, QDQ, WEIGHT_ONLY


@pytest.mark.parametrize(
    "op_type, category",
    [
        ("QLinearConv", INTEGER), ("QLinearMatMul", INTEGER), ("QLinearAdd", INTEGER), ("MatMulInteger", INTEGER),
        ("ConvInteger", INTEGER), ("QGemm", INTEGER), ("DynamicQuantizeMatMul", INTEGER),
        ("QuantizeLinear", QDQ), ("DequantizeLinear", QDQ), ("DynamicQuantizeLinear", QDQ),
        ("Conv", FLOAT), ("ConvTranspose", FLOAT), ("FusedConv", FLOAT), ("FusedMatMul", FLOAT), ("Gemm", FLOAT),
        ("MatMulNBits", WEIGHT_ONLY), ("Relu", OTHER), ("Reshape", OTHER), ("Softmax", OTHER),
    ],
)
def test_op_categories(op_type, category):
    assert classify_op(op_type) == category


def test_qdq_graph_runs_convolutions_as_qlinearconv_and_lists_the_float_one(qdq_onnx, tmp_path):
    report = deployability_report(qdq_onnx, keep_optimized=tmp_path / "opt.onnx")
    by_name = {node.name: node for node in report.nodes}
    optimized = onnx.load(str(tmp_path / "opt.onnx"))
    assert [node.op_type for node in optimized.graph.node] == [node.op_type for node in report.nodes]
    # The second convolution became an integer kernel; the excluded first one stayed float.
    assert by_name["/encoder/encoder.2/Conv"].op_type == "QLinearConv"
    assert by_name["/encoder/encoder.2/Conv"].category == INTEGER
    fallback_names = [node.name for node in report.fallbacks]
    assert EXCLUDED_CONV in fallback_names
    assert all(node.category == FLOAT for node in report.fallbacks)
    assert report.counts[INTEGER] == sum(classify_op(node.op_type) == INTEGER for node in optimized.graph.node)
    assert report.counts[INTEGER] >= 1 and report.counts[QDQ] >= 2
    assert 0.0 < report.integer_share < 1.0
    text = report.format()
    assert EXCLUDED_CONV in text and "QLinearConv" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert EXCLUDED_CONV in [node["name"] for node in data["float_fallbacks"]]
    assert sum(data["counts"].values()) == len(report.nodes)


def test_float_graph_has_no_integer_compute(float_onnx):
    report = deployability_report(float_onnx)
    assert report.counts[INTEGER] == 0 and report.counts[QDQ] == 0
    assert report.integer_share == 0.0
    assert {node.op_type for node in report.fallbacks} & {"Conv", "FusedConv"}
    assert len(report.fallbacks) == sum(classify_op(n.op_type) == FLOAT for n in report.nodes)


def test_missing_graph_is_one_line_error(tmp_path):
    with pytest.raises(VidquantError, match="absent.onnx does not exist"):
        deployability_report(tmp_path / "absent.onnx")
