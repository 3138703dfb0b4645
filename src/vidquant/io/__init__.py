"""Reading and writing: video files, safe checkpoints, JSON reports (imports nothing internal but errors)."""

from vidquant.io.frame import PIXEL_FORMATS, Frame, PixelFormat, parse_size, size_from_name
from vidquant.io.color import ColorSpec, frame_to_rgb, rgb_to_frame, rgb_to_yuv444, yuv444_to_rgb
from vidquant.io.yuv import RawYuvReader, RawYuvWriter, Y4mReader, Y4mWriter
from vidquant.io.av_reader import AvReader, PngSequenceReader
from vidquant.io.video import VideoReader, open_video, open_writer
from vidquant.io.dataset import DatasetClass, DatasetConfig, SequenceSpec, load_dataset_config, parse_dataset_config
from vidquant.io.results import CodecResults, RatePoint, load_results, parse_results, save_results
from vidquant.io.rdplot import RDPanel, RDSeries, save_rd_plot
