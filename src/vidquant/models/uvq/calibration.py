"""Calibration frames for UVQ quantization: evenly spaced frames of clips, at the model's input size.

Calibration clips may be shorter than the one second the scoring pipeline needs, so frames are
decoded directly (every frame, then an even subset), converted like the pipeline does (bicubic
stretch to 1080x1920, RGB24, [-1, 1]). Video is read through ``vidquant.io``: raw I420 ``.yuv``
files when their name carries the size (``name_176x144_8f.yuv``), anything else PyAV decodes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import av
import numpy as np
import torch

from vidquant.errors import VidquantError
from vidquant.io.av_timed import TimedFrames
from vidquant.io.color import to_yuv420p
from vidquant.io.video import RAW_EXTENSIONS, open_video
from vidquant.models.uvq.config import SamplingConfig
from vidquant.models.uvq.pipeline import normalize_frames


def _evenly(count: int, wanted: int) -> list[int]:
    """``wanted`` indices spread over ``range(count)`` (all of them when there are fewer)."""
    if count <= wanted:
        return list(range(count))
    return sorted({round(i * (count - 1) / (wanted - 1)) for i in range(wanted)}) if wanted > 1 else [0]


def _rgb(frame: av.VideoFrame, height: int, width: int) -> np.ndarray:
    return frame.reformat(width=width, height=height, format="rgb24", interpolation="BICUBIC").to_ndarray()


def _decoded(path: Path) -> Iterator[av.VideoFrame]:
    """Every frame of ``path`` as PyAV frames (raw I420 ones rebuilt from their planes)."""
    if path.suffix.lower() in RAW_EXTENSIONS:  # errors name the file already
        for frame in map(to_yuv420p, open_video(path)):
            planes = np.concatenate([frame.y.ravel(), frame.u.ravel(), frame.v.ravel()])
            yield av.VideoFrame.from_ndarray(planes.reshape(frame.height * 3 // 2, frame.width), format="yuv420p")
        return
    try:
        with TimedFrames(path) as video:
            yield from (timed.frame for timed in video)
    except VidquantError as error:
        raise VidquantError(f"{path}: {error}") from None


def calibration_frames(paths: Sequence[Path | str], per_clip: int = 4, config: SamplingConfig | None = None) -> torch.Tensor:
    """(N, 3, H, W) float32 frames in [-1, 1]: ``per_clip`` evenly spaced frames of each clip."""
    config = config or SamplingConfig()
    chosen: list[np.ndarray] = []
    for path in paths:
        frames = list(_decoded(Path(path)))
        if not frames:
            raise VidquantError(f"{path}: no frames to calibrate with")
        chosen += [_rgb(frames[i], config.height, config.width) for i in _evenly(len(frames), per_clip)]
    if not chosen:
        raise VidquantError("no calibration clips given")
    return normalize_frames(np.stack(chosen))
