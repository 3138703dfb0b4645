"""Session fixtures: the float and QDQ graphs are exported once for all runtime tests."""

import pytest

from tests.runtime.graphs import float_graph, qdq_graph


@pytest.fixture(scope="session")
def graph_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("runtime-graphs")


@pytest.fixture(scope="session")
def float_onnx(graph_dir):
    return float_graph(graph_dir)


@pytest.fixture(scope="session")
def qdq_onnx(graph_dir, float_onnx):
    return qdq_graph(graph_dir, float_onnx)
