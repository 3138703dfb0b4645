"""Video -> UVQ 1.5 scores: sample frames, normalise, score in batches, average (SPEC.md 7-8).

Frames are streamed: at most ``batch_frames`` decoded 1080p frames are held at a time.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch
from tqdm import tqdm

from vidquant.errors import VidquantError
from vidquant.io.av_timed import TimedFrames, autorotate_filters, probe_video
from vidquant.models.uvq.config import SamplingConfig
from vidquant.models.uvq.sampling import (
    CfrSelector,
    SamplingPlan,
    VideoProbe,
    needs_frame_count,
    nominal_frame_indices,
    plan_sampling,
)

# Scores a batch of RGB24 frames (N, H, W, 3) uint8 -> (N,) float32 scores.
FrameScorer = Callable[[np.ndarray], torch.Tensor]


def normalize_frames(frames: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [-1, 1], computed in float64 as upstream."""
    scaled = ((frames / 255.0 - 0.5) * 2.0).astype(np.float32)
    return torch.from_numpy(scaled).permute(0, 3, 1, 2)


def model_scorer(model: torch.nn.Module) -> FrameScorer:
    """A FrameScorer running ``model`` (frames -> (N, 1) scores) without gradients."""

    def score(frames: np.ndarray) -> torch.Tensor:
        with torch.inference_mode():
            return model(normalize_frames(frames)).reshape(-1).float()

    return score


def padded(frames: Iterable[np.ndarray], count: int, shape: tuple[int, int, int]) -> Iterator[np.ndarray]:
    """Exactly ``count`` frames: extra ones dropped, missing ones zero (scored, as upstream).

    At least one real frame is required (upstream asserts the same)."""
    taken = 0
    for frame in itertools.islice(frames, count):
        taken += 1
        yield frame
    if taken == 0 and count > 0:
        raise VidquantError("no frame could be decoded")
    for _ in range(count - taken):
        yield np.zeros(shape, dtype=np.uint8)


def score_frames(
    frames: Iterable[np.ndarray],
    count: int,
    scorer: FrameScorer,
    config: SamplingConfig,
    progress: bool = False,
) -> torch.Tensor:
    """Per-frame float32 scores (count,) of the first ``count`` frames, zero-padded."""
    stream = padded(frames, count, (config.height, config.width, 3))
    batches = -(-count // config.batch_frames)
    scores = []
    for _ in tqdm(range(batches), desc="uvq", unit="batch", disable=not progress, leave=False):
        batch = np.stack(list(itertools.islice(stream, config.batch_frames)))
        scores.append(scorer(batch))
    return torch.cat(scores)


@dataclass(frozen=True)
class VideoScore:
    """One video's result; ``to_dict`` gives the official JSON layout and key order."""

    score: float
    per_frame_scores: list[float]
    frame_indices: list[int]
    video_name: str | None = None
    rate: int = 1  # sampled frames per second

    @property
    def per_second_scores(self) -> list[float]:
        """Mean score of each second's ``rate`` frames (equal to the per-frame scores at R = 1)."""
        scores = self.per_frame_scores
        return [float(np.mean(scores[i : i + self.rate])) for i in range(0, len(scores), self.rate)]

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "uvq1p5_score": self.score,
            "per_frame_scores": self.per_frame_scores,
            "frame_indices": self.frame_indices,
        }
        if self.video_name is not None:
            result["video_name"] = self.video_name
        return result


def video_score(per_frame: torch.Tensor, plan: SamplingPlan, name: str | None = None) -> VideoScore:
    """Video score = float32 mean of all per-frame scores (padding included), as upstream."""
    return VideoScore(
        score=float(per_frame.mean()),
        per_frame_scores=[float(s) for s in per_frame],
        frame_indices=nominal_frame_indices(plan.frames, plan.orig_fps, plan.rate),
        video_name=name,
        rate=plan.rate,
    )


def plan_video(path: Path, fps: int, transpose: bool, batch: bool, config: SamplingConfig) -> SamplingPlan:
    """Probe ``path`` and decide how many seconds at which rate to score (SPEC.md 8.3/8.4)."""
    info = probe_video(path, count_frames=needs_frame_count(fps, batch))
    rate = math.ceil(info.frame_rate) if info.frame_rate else None  # ffprobe's r_frame_rate, rounded up
    probe = VideoProbe(info.duration, rate, info.width, info.height, info.frame_count)
    plan = plan_sampling(probe, fps, transpose, batch, config.min_duration_s)
    if config.max_seconds is not None and plan.seconds > config.max_seconds:
        plan = replace(plan, seconds=config.max_seconds)
    return plan


def filter_chain(rotation: int, transpose: bool, height: int, width: int) -> list[tuple[str, str | None]]:
    """The official reader's ffmpeg filters (SPEC.md 7.1): [the CLI's auto-rotation by the display
    matrix], [transpose=2: 90 deg counter-clockwise], bicubic stretch to width x height, rgb24."""
    chain = autorotate_filters(rotation)
    if transpose:
        chain.append(("transpose", "2"))
    return chain + [("scale", f"{width}:{height}:flags=bicubic"), ("format", "rgb24")]


def read_sampled_frames(path: Path, plan: SamplingPlan, height: int, width: int) -> Iterator[np.ndarray]:
    """The RGB24 frames (height, width, 3) uint8 of the official reader's ``ffmpeg -r plan.rate``
    conversion, in order (SPEC.md 7.1-7.2): constant-frame-rate selection by timestamp."""
    with TimedFrames(path) as video:
        selector = CfrSelector(plan.rate)
        last: np.ndarray | None = None
        for frame in video:
            repeats, copies = selector.step(frame.time, frame.duration)
            if last is not None:
                yield from [last] * repeats
            if copies:  # the graph is built at the first frame: it carries the display matrix
                last = video.convert(frame, filter_chain(frame.rotation, plan.transpose, height, width))
                yield from [last] * copies
        if last is not None:
            yield from [last] * selector.finish()


def sampled_frames(path: Path, plan: SamplingPlan, config: SamplingConfig) -> Iterator[np.ndarray]:
    return read_sampled_frames(path, plan, config.height, config.width)


def score_video(
    path: Path | str,
    scorer: FrameScorer,
    fps: int = 1,
    transpose: bool = False,
    batch: bool = False,
    config: SamplingConfig | None = None,
    name: str | None = None,
    progress: bool = False,
) -> VideoScore:
    """Score one video file like ``uvq_inference.py`` (single mode, or batch mode's rules)."""
    config = config or SamplingConfig()
    path = Path(path)
    try:
        plan = plan_video(path, fps, transpose, batch, config)
        per_frame = score_frames(sampled_frames(path, plan, config), plan.frames, scorer, config, progress)
    except VidquantError as error:
        raise VidquantError(f"{path}: {error}") from None
    return video_score(per_frame, plan, name)
