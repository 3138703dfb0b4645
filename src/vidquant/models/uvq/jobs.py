"""``uvq score`` as a sweep: one job per video, each worker building the scoring model once.

A ``ScoreSetup`` names the model by its files (a float weights folder, or a quantized folder on
PyTorch or ONNX Runtime), so that a Ray worker on any node can build it (``vidquant.sweep``).
``score_job(setup, video)`` gives what the sequential ``uvq score`` computes for that video.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import DEFAULT_WEIGHTS_DIR, SamplingConfig


@dataclass(frozen=True)
class ScoreSetup:
    weights: str | None = None  # float weights folder (default DEFAULT_WEIGHTS_DIR; FILL-v1 where a file is absent)
    quant: str | None = None  # folder written by `uvq quantize` (used instead of the float model)
    backend: str = "torch"  # torch or onnx (with quant)
    threads: int | None = None  # torch / ONNX Runtime CPU threads
    fps: int = 1
    config: SamplingConfig = SamplingConfig()


_MODELS: dict[ScoreSetup, object] = {}  # the model of the setup this worker process scores with


def setup_model(setup: ScoreSetup):
    """The model ``setup`` names, built once per process and reused by every later video."""
    if setup not in _MODELS:
        _MODELS.clear()
        _MODELS[setup] = _build(setup)
    return _MODELS[setup]


def _build(setup: ScoreSetup):
    import torch

    from .model import build_uvq
    from .quantized import OnnxUVQ, load_quantized_uvq

    if setup.threads is not None:
        torch.set_num_threads(setup.threads)
    if setup.quant is None:
        return build_uvq(Path(setup.weights) if setup.weights is not None else DEFAULT_WEIGHTS_DIR)[0]
    folder = Path(setup.quant)
    return OnnxUVQ(folder, threads=setup.threads) if setup.backend == "onnx" else load_quantized_uvq(folder)


def score_job(setup: ScoreSetup, video: str) -> dict:
    """The batch-mode result of one video (``VideoScore.to_dict()``), as ``uvq score`` gives it."""
    from .pipeline import model_scorer, score_video

    scorer = model_scorer(setup_model(setup))
    return score_video(video, scorer, setup.fps, batch=True, config=setup.config, name=video).to_dict()
