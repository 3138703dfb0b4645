"""Reports on quantized models: per-layer table, coverage, size, MACs and bit-operations."""

from vidquant.analysis.report import LayerRow, Report, report

__all__ = ["LayerRow", "Report", "report"]
