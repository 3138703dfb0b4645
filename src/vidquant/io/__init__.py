"""Reading and writing: video files, safe checkpoints, JSON reports (imports nothing internal but errors).

Names are re-exported lazily (``vidquant.lazy``), so that importing one module of the package
does not load PyAV and matplotlib.
"""

from vidquant.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "vidquant.io.frame": ("PIXEL_FORMATS", "Frame", "PixelFormat", "parse_size", "size_from_name"),
    "vidquant.io.color": ("ColorSpec", "frame_to_rgb", "rgb_to_frame", "rgb_to_yuv444", "yuv444_to_rgb"),
    "vidquant.io.yuv": ("RawYuvReader", "RawYuvWriter", "Y4mReader", "Y4mWriter"),
    "vidquant.io.av_reader": ("AvReader", "PngSequenceReader"),
    "vidquant.io.video": ("VideoReader", "open_video", "open_writer"),
    "vidquant.io.output_path": ("VIDEO_OUTPUT_SUFFIXES", "check_output_path"),
    "vidquant.io.jsonfile": ("read_json", "write_json"),
    "vidquant.io.dataset": ("DatasetClass", "DatasetConfig", "SequenceSpec", "load_dataset_config", "parse_dataset_config"),
    "vidquant.io.results": ("CodecResults", "RatePoint", "load_results", "parse_results", "save_results"),
    "vidquant.io.rd_figure": ("RDPanel", "RDSeries", "save_rd_plot"),
})
