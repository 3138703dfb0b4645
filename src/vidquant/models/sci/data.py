"""SCI data: the .mat benchmark files (``orig``, ``meas``, ``mask``) and random training crops
from grayscale clips (Y planes of raw .yuv files, anything else decoded with PyAV), read through
``vidquant.io``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from vidquant.errors import VidquantError, first_line
from vidquant.io.av_timed import TimedFrames
from vidquant.io.video import open_video

VIDEO_SUFFIXES = {".yuv", ".mp4", ".264", ".h264", ".mkv", ".avi", ".mov", ".webm"}
MAX_SCALE = 4  # large clips (720p) are also seen downscaled, closer to 256x256 scenes


@dataclass(frozen=True)
class Benchmark:
    """A grayscale SCI benchmark file (or a real capture) on the [0, 1] scale.

    ``orig`` (N, H, W) frames, or None for measurements without ground truth; ``meas`` (G, H, W)
    snapshots of T consecutive frames each; ``mask`` (T, H, W); N = G * T.
    """

    name: str
    orig: torch.Tensor | None
    meas: torch.Tensor
    mask: torch.Tensor

    @property
    def frames(self) -> int:
        return self.mask.shape[0]

    def group(self, index: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(snapshot (1, H, W), ground-truth frames (1, T, H, W) or None) of group ``index``."""
        t = self.frames
        truth = None if self.orig is None else self.orig[index * t : (index + 1) * t].unsqueeze(0)
        return self.meas[index : index + 1], truth


def load_benchmark(path: str | Path, mask: torch.Tensor | None = None, meas_only: bool = False) -> Benchmark:
    """Read a .mat file (MATLAB v5, frames last: ``meas``, and ``orig`` and ``mask`` unless
    given), rescaled by 255. ``mask`` (T, H, W; from ``forward_model.load_mask``) replaces the
    file's; ``meas_only`` reads no ground truth (real captures have none)."""
    from scipy.io import loadmat

    path = Path(path)
    if not path.is_file():
        raise VidquantError(f"benchmark file not found: {path}")
    try:
        data = loadmat(path)
    except Exception as error:  # scipy raises many types for files that are not MATLAB v5
        raise VidquantError(f"cannot read {path} as a MATLAB .mat file: {first_line(error)}") from None
    needed = ["meas"] + ([] if meas_only else ["orig"]) + (["mask"] if mask is None else [])
    missing = [key for key in needed if key not in data]
    if missing:
        hint = "; a capture without ground truth needs --meas-only" if missing == ["orig"] else ""
        hint += "; give the mask with --mask FILE" if "mask" in missing else ""
        raise VidquantError(f"{path} lacks key(s) {missing}{hint}")
    meas = _frames_first(data["meas"], path, "meas")
    mask = _frames_first(data["mask"], path, "mask") if mask is None else mask
    if mask.shape[-2:] != meas.shape[-2:]:
        raise VidquantError(f"{path}: mask frames are {tuple(mask.shape[-2:])}, measurements {tuple(meas.shape[-2:])}")
    orig = None if meas_only else _frames_first(data["orig"], path, "orig")
    if orig is not None and orig.shape[0] != meas.shape[0] * mask.shape[0]:
        raise VidquantError(f"{path}: {orig.shape[0]} frames do not make {meas.shape[0]} groups of {mask.shape[0]}")
    return Benchmark(path.stem, None if orig is None else orig / 255.0, meas / 255.0, mask)


def _frames_first(array: np.ndarray, path: Path, key: str) -> torch.Tensor:
    if not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
        raise VidquantError(f"{path}: '{key}' must hold numbers, got {array.dtype}")
    array = array[..., None] if array.ndim == 2 else array
    if array.ndim != 3:
        raise VidquantError(f"{path}: '{key}' must be H x W x frames, got shape {array.shape}")
    frames = torch.from_numpy(np.ascontiguousarray(np.moveaxis(array, -1, 0)).astype(np.float32))
    if not torch.isfinite(frames).all():
        raise VidquantError(f"{path}: '{key}' holds NaN or Inf samples")
    return frames


def find_clips(sources: Sequence[str | Path]) -> list[Path]:
    """Video files named by ``sources`` (files, or folders searched recursively).

    Benchmark .mat files are refused: training on the evaluation data would void the results.
    """
    clips: list[Path] = []
    for source in map(Path, sources):
        if source.suffix == ".mat":
            raise VidquantError(f"refusing to train on benchmark file {source}; give video clips")
        if source.is_dir():
            clips += sorted(p for p in source.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
        elif source.is_file():
            clips.append(source)
        else:
            raise VidquantError(f"training data not found: {source}")
    if not clips:
        raise VidquantError(f"no video clips ({', '.join(sorted(VIDEO_SUFFIXES))}) in {', '.join(map(str, sources))}")
    return clips


def read_luma(path: str | Path, max_frames: int | None = None) -> np.ndarray:
    """Grayscale frames (N, H, W) uint8 read through ``vidquant.io``: the Y plane of an 8-bit
    I420 .yuv named ``*_WxH*``, otherwise every frame decoded by PyAV and converted to gray
    (FFmpeg's full-range gray, not the stored Y plane)."""
    path = Path(path)
    frames = _read_yuv_luma(path, max_frames) if path.suffix.lower() == ".yuv" else _decode_luma(path, max_frames)
    if len(frames) == 0:
        raise VidquantError(f"no frames in {path}")
    return frames


def _read_yuv_luma(path: Path, max_frames: int | None) -> np.ndarray:
    planes = [frame.y for frame in open_video(path, count=max_frames)]
    return np.stack(planes) if planes else np.zeros((0, 0, 0), np.uint8)


def _decode_luma(path: Path, max_frames: int | None) -> np.ndarray:
    frames = []
    try:
        with TimedFrames(path) as video:
            for timed in itertools.islice(video, max_frames):
                frames.append(timed.frame.to_ndarray(format="gray"))
    except VidquantError as error:
        raise VidquantError(f"{path}: {error}") from None
    return np.stack(frames) if frames else np.zeros((0, 0, 0), np.uint8)


class CropSampler:
    """Random (B, T, crop, crop) training batches in [0, 1] from grayscale clips.

    Each sample: a clip chosen uniformly, T consecutive frames (random direction), a random
    box-downscale by 1 to MAX_SCALE (as far as the clip is large enough), a crop, and random
    horizontal/diagonal flips, as in EfficientSCI's augmentation.
    """

    def __init__(self, clips: Sequence[np.ndarray], frames: int, generator: torch.Generator) -> None:
        self.clips = [clip for clip in clips if clip.shape[0] >= frames]
        if not self.clips:
            raise VidquantError(f"no clip has the {frames} frames a sample needs")
        self.frames = frames
        self.generator = generator

    def randint(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.generator))

    def _sample(self, crop: int) -> torch.Tensor:
        clip = self.clips[self.randint(len(self.clips))]
        n, h, w = clip.shape
        if min(h, w) < crop:
            raise VidquantError(f"crop {crop} is larger than a {w}x{h} clip")
        scale = 1 + self.randint(min(MAX_SCALE, min(h, w) // crop))
        start, top, left = self.randint(n - self.frames + 1), self.randint(h - crop * scale + 1), self.randint(w - crop * scale + 1)
        patch = torch.from_numpy(
            clip[start : start + self.frames, top : top + crop * scale, left : left + crop * scale].astype(np.float32) / 255.0
        )
        if scale > 1:
            patch = torch.nn.functional.avg_pool2d(patch, scale)
        if self.randint(2):
            patch = patch.flip(0)
        if self.randint(2):
            patch = patch.flip(-1)
        if self.randint(2):
            patch = patch.transpose(-2, -1)
        return patch

    def batch(self, size: int, crop: int) -> torch.Tensor:
        return torch.stack([self._sample(crop) for _ in range(size)])


def load_clips(paths: Sequence[Path], max_frames: int | None = 600) -> list[np.ndarray]:
    """Decode every clip once into memory (grayscale uint8)."""
    return [read_luma(path, max_frames) for path in paths]
