"""Deployability report: which nodes ONNX Runtime runs with integer kernels, which stay float.

A QDQ graph only says what *may* run in integer arithmetic; ONNX Runtime's graph optimizer
decides what does (QDQ + Conv -> QLinearConv, etc.). So the report reads the model ONNX
Runtime wrote after optimizing it, at the extended level: the last level whose saved model is
portable (the layout level rewrites for this CPU's vector width).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import onnx
import onnxruntime as ort

from vidquant.runtime.ort_model import make_session_options, open_session, resolve_providers

INTEGER = "integer"
QDQ = "quantize/dequantize"
FLOAT = "float"
WEIGHT_ONLY = "weight-only"
OTHER = "other"
CATEGORIES = (INTEGER, WEIGHT_ONLY, QDQ, FLOAT, OTHER)

# Op types (any domain) by category; ops not listed fall back on the prefix rule below, then OTHER.
OP_CATEGORIES: dict[str, str] = {
    **dict.fromkeys(
        ("MatMulInteger", "ConvInteger", "QGemm", "DynamicQuantizeMatMul", "MatMulIntegerToFloat",
         "QAttention", "QEmbedLayerNormalization", "DynamicQuantizeLSTM", "QOrderedMatMul",
         "QOrderedAttention", "QOrderedGelu", "QOrderedLayerNormalization", "QOrderedLongformerAttention",
         "NhwcMaxPool"),
        INTEGER,
    ),
    **dict.fromkeys(("MatMulNBits", "GatherBlockQuantized", "MatMulBnb4", "MatMulFpQ4"), WEIGHT_ONLY),
    **dict.fromkeys(("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"), QDQ),
    **dict.fromkeys(
        ("Conv", "ConvTranspose", "MatMul", "Gemm", "FusedConv", "FusedMatMul", "FusedGemm", "NhwcFusedConv",
         "NchwcConv", "Attention", "MultiHeadAttention", "GroupQueryAttention", "Einsum", "LSTM", "GRU", "RNN",
         "ConvTransposeWithDynamicPads", "TransposeMatMul"),
        FLOAT,
    ),
}
INTEGER_PREFIXES = ("QLinear",)


def classify_op(op_type: str) -> str:
    """Category of one node type (see ``CATEGORIES``)."""
    if op_type in OP_CATEGORIES:
        return OP_CATEGORIES[op_type]
    if op_type.startswith(INTEGER_PREFIXES):
        return INTEGER
    return OTHER


@dataclass(frozen=True)
class NodeRow:
    name: str
    op_type: str
    domain: str
    category: str
    reason: str = ""  # float compute nodes: why ONNX Runtime did not run it in integers
    fix: str = ""  # ... and what makes it integer


@dataclass
class DeployabilityReport:
    """Every node of the optimized graph with its category; ``fallbacks`` are the float compute nodes."""

    path: str
    providers: list[str]
    nodes: list[NodeRow] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = Counter(node.category for node in self.nodes)
        return {category: counts.get(category, 0) for category in CATEGORIES}

    @property
    def op_counts(self) -> dict[str, dict[str, int]]:
        """category -> op type -> node count."""
        result: dict[str, dict[str, int]] = {category: {} for category in CATEGORIES}
        for node in self.nodes:
            ops = result[node.category]
            ops[node.op_type] = ops.get(node.op_type, 0) + 1
        return result

    @property
    def fallbacks(self) -> list[NodeRow]:
        return [node for node in self.nodes if node.category == FLOAT]

    @property
    def integer_share(self) -> float:
        """Integer compute nodes / all compute nodes (integer, weight-only and float)."""
        counts = self.counts
        compute = counts[INTEGER] + counts[WEIGHT_ONLY] + counts[FLOAT]
        return counts[INTEGER] / compute if compute else 0.0

    def summary(self) -> str:
        """One line: integer share of the compute nodes and the float fallbacks by op type."""
        compute = self.counts[INTEGER] + self.counts[WEIGHT_ONLY] + self.counts[FLOAT]
        fallbacks = ", ".join(f"{op} x{count}" for op, count in sorted(self.op_counts[FLOAT].items())) or "none"
        return (
            f"integer compute {self.counts[INTEGER]}/{compute} compute nodes ({100 * self.integer_share:.0f} %); "
            f"float fallbacks: {fallbacks}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "providers": self.providers,
            "counts": self.counts,
            "op_counts": self.op_counts,
            "integer_share": self.integer_share,
            "float_fallbacks": [asdict(node) for node in self.fallbacks],
            "nodes": [asdict(node) for node in self.nodes],
        }

    def format(self) -> str:
        """Counts per category and op type, then every float fallback node by name."""
        lines = [f"deployability of {self.path} after ONNX Runtime optimization ({', '.join(self.providers)})"]
        width = max(len(category) for category in CATEGORIES)
        for category, ops in self.op_counts.items():
            detail = ", ".join(f"{op} x{count}" for op, count in sorted(ops.items(), key=lambda item: -item[1]))
            lines.append(f"  {category:<{width}}  {self.counts[category]:>4}  {detail}".rstrip())
        lines.append(self.summary())
        if self.fallbacks:
            lines.append(f"float fallbacks ({len(self.fallbacks)}):")
            for node in self.fallbacks:
                lines.append(f"  {node.op_type:<16} {node.name}")
                lines.append(f"    why: {node.reason}; fix: {node.fix}")
        else:
            lines.append("float fallbacks: none")
        return "\n".join(lines)


def optimized_graph(onnx_path: Union[str, Path], out_path: Union[str, Path], providers: Sequence[str]) -> onnx.ModelProto:
    """Let ONNX Runtime optimize ``onnx_path`` (extended level), save it to ``out_path`` and load it."""
    options = make_session_options()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(out_path)
    open_session(onnx_path, options, providers)
    return onnx.load(str(out_path), load_external_data=False)


def deployability_report(
    onnx_path: Union[str, Path], providers: Optional[Sequence[str]] = None, keep_optimized: Optional[Union[str, Path]] = None
) -> DeployabilityReport:
    """Classify every node ONNX Runtime keeps after optimizing ``onnx_path``.

    ``keep_optimized``: also leave the optimized model at this path (else a temporary file).
    """
    providers = resolve_providers(providers)
    with tempfile.TemporaryDirectory(prefix="vidquant-ort-") as tmp:
        out_path = Path(keep_optimized) if keep_optimized else Path(tmp) / "optimized.onnx"
        graph = optimized_graph(onnx_path, out_path, providers).graph
    nodes = []
    for node in graph.node:
        category = classify_op(node.op_type)
        reason, fix = fallback_reason(graph, node) if category == FLOAT else ("", "")
        nodes.append(NodeRow(node.name, node.op_type, node.domain or "ai.onnx", category, reason, fix))
    return DeployabilityReport(path=str(onnx_path), providers=providers, nodes=nodes)


_GRAPH_SCOPE_FIX = "quantize with w8a8-static (graph scope: every tensor quantized where it is made)"
_NARROW_CODES = {onnx.TensorProto.INT16, onnx.TensorProto.UINT16, onnx.TensorProto.INT4, onnx.TensorProto.UINT4}


def fallback_reason(graph: onnx.GraphProto, node: onnx.NodeProto) -> tuple[str, str]:
    """(why ONNX Runtime runs this compute node in float, what makes it integer), read from the
    optimized graph: ONNX Runtime fuses DequantizeLinear -> op -> QuantizeLinear with 8-bit codes."""
    producer = {output: other for other in graph.node for output in other.output}
    readers = [other for other in graph.node if any(name in other.input for name in node.output)]
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    if node.op_type == "ConvTranspose":
        return ("ONNX Runtime's CPU provider has no integer ConvTranspose",
                _GRAPH_SCOPE_FIX + "; export then writes it as QLinearConv + DepthToSpace (one group, no dilation, "
                "the same stride on both axes)")
    operands = 2 if node.op_type in ("MatMul", "Gemm", "Conv", "FusedConv", "FusedGemm", "FusedMatMul") else 1
    for index, name in enumerate(node.input[:operands]):
        source = producer.get(name)
        if source is None or source.op_type != "DequantizeLinear":
            what = "input" if index == 0 else ("weights" if name in initializers or source is None else "second operand")
            return f"its {what} is not quantized (no DequantizeLinear before it)", (
                "give the layer a weight spec" if what == "weights" else _GRAPH_SCOPE_FIX + " or an input spec")
        codes = initializers.get(source.input[0])
        if codes is not None and codes.data_type in _NARROW_CODES:
            return ("its codes are not 8-bit (int16 / int4 have no integer kernel here)",
                    "use 8-bit weights and activations for this layer")
    if not readers or any(reader.op_type != "QuantizeLinear" for reader in readers):
        return ("its output is not quantized (no QuantizeLinear after it): a layers-scope recipe quantizes inputs only",
                _GRAPH_SCOPE_FIX + " or an output spec")
    return "no integer kernel for this op on this provider", "keep it float, or rewrite it with ops that have one"
