"""Reading and writing: video files, safe checkpoints, JSON reports (imports nothing internal but errors).

Names are re-exported lazily (PEP 562), so that ``import vidquant`` (which needs only the
safe checkpoint reader) does not load PyAV and matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "vidquant.io.frame": ("PIXEL_FORMATS", "Frame", "PixelFormat", "parse_size", "size_from_name"),
    "vidquant.io.color": ("ColorSpec", "frame_to_rgb", "rgb_to_frame", "rgb_to_yuv444", "yuv444_to_rgb"),
    "vidquant.io.yuv": ("RawYuvReader", "RawYuvWriter", "Y4mReader", "Y4mWriter"),
    "vidquant.io.av_reader": ("AvReader", "PngSequenceReader"),
    "vidquant.io.video": ("VideoReader", "open_video", "open_writer"),
    "vidquant.io.dataset": ("DatasetClass", "DatasetConfig", "SequenceSpec", "load_dataset_config", "parse_dataset_config"),
    "vidquant.io.results": ("CodecResults", "RatePoint", "load_results", "parse_results", "save_results"),
    "vidquant.io.rdplot": ("RDPanel", "RDSeries", "save_rd_plot"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'vidquant.io' has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULE_OF[name]), name)
