"""Reports on quantized models: per-layer table, coverage, size, MACs and bit-operations."""

from vidquant.analysis.report import LayerRow, Report, bit_ops, count_macs, report, sqnr_db
from vidquant.analysis.sensitivity import Sensitivity, SensitivityRow, module_sensitivity

__all__ = ["LayerRow", "Report", "Sensitivity", "SensitivityRow", "bit_ops", "count_macs", "module_sensitivity", "report",
           "sqnr_db"]
