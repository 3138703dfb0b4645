"""Full-precision training of EfficientSCI on random crops of grayscale clips (MSE, Adam).

Resumable: ``out`` holds ``model.safetensors`` (weights + config) and ``train_state.pt``
(optimizer, step, sampler RNG); running again with the same ``out`` continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
from tqdm import tqdm

from vidquant.errors import VidquantError
from vidquant.io.checkpoint import read_safetensors
from vidquant.models.sci.checkpoint import (
    STATE,
    WEIGHTS,
    load_model,
    load_state,
    save_state,
    save_weights,
)
from vidquant.models.sci.config import get_preset
from vidquant.models.sci.data import CropSampler, find_clips, load_clips
from vidquant.models.sci.forward_model import load_mask, measure, random_masks
from vidquant.models.sci.network import EfficientSCI


@dataclass(frozen=True)
class TrainSettings:
    """One training run. An epoch is ``iters_per_epoch`` batches of fresh random crops.

    ``crop_schedule`` maps a start epoch to a crop size (overrides ``crop`` from then on), and
    the learning rate is multiplied by ``lr_drop_factor`` from ``lr_drop_epoch`` on: the paper's
    128 -> 256 crops and 1e-4 -> 1e-5 steps. ``mask`` None draws new random masks per sample.
    """

    preset: str
    data: tuple[str, ...]
    out: Path
    epochs: int = 10
    iters_per_epoch: int = 250
    batch_size: int = 4
    crop: int = 128
    crop_schedule: tuple[tuple[int, int], ...] = ()
    lr: float = 1e-4
    lr_drop_epoch: int | None = None
    lr_drop_factor: float = 0.1
    mask: str | None = None
    init: str | None = None
    seed: int = 0
    save_every: int = 50
    max_frames: int = 600
    time_limit_s: float | None = None
    config_overrides: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.iters_per_epoch < 1 or self.batch_size < 1:
            raise VidquantError("epochs, iters-per-epoch and batch size must be positive")
        if self.crop < 2 or self.crop % 2 or any(c < 2 or c % 2 for _, c in self.crop_schedule):
            raise VidquantError("crop sizes must be even (the network halves the resolution once)")

    def crop_at(self, epoch: int) -> int:
        started = [crop for start, crop in sorted(self.crop_schedule) if epoch >= start]
        return started[-1] if started else self.crop

    def lr_at(self, epoch: int) -> float:
        dropped = self.lr_drop_epoch is not None and epoch >= self.lr_drop_epoch
        return self.lr * (self.lr_drop_factor if dropped else 1.0)


@dataclass
class TrainResult:
    steps: int
    loss: float
    weights: Path


def build_model(settings: TrainSettings) -> EfficientSCI:
    """The preset's network (with overrides), starting from ``init`` weights when given."""
    with torch.random.fork_rng():  # initial weights follow the run's seed, global RNG untouched
        torch.manual_seed(settings.seed)
        model = EfficientSCI(dataclasses.replace(get_preset(settings.preset), **settings.config_overrides))
    if settings.init:
        model.load_state_dict(load_model(settings.init).state_dict())
    return model


def _batch(sampler: CropSampler, settings: TrainSettings, crop: int, fixed_mask: torch.Tensor | None):
    frames = sampler.batch(settings.batch_size, crop)
    if fixed_mask is None:
        mask = random_masks(frames.shape[1], crop, crop, batch=settings.batch_size, generator=sampler.generator)
    else:
        mask = _crop_mask(fixed_mask, crop, sampler)
    return frames, mask


def _crop_mask(mask: torch.Tensor, crop: int, sampler: CropSampler) -> torch.Tensor:
    """A random crop of a file mask, so that every pixel pattern of it is seen."""
    _, h, w = mask.shape
    if min(h, w) < crop:
        raise VidquantError(f"mask {w}x{h} is smaller than crop {crop}")
    top, left = sampler.randint(h - crop + 1), sampler.randint(w - crop + 1)
    return mask[:, top : top + crop, left : left + crop]


def train(
    settings: TrainSettings,
    prepare: Callable[[nn.Module], nn.Module] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train (or resume) and return where the weights are. ``prepare`` may wrap the built
    network before the optimizer is made (e.g. quantization for QAT)."""
    out = Path(settings.out)
    model = build_model(settings)
    frames_per_snapshot = model.config.frames
    model = prepare(model) if prepare else model
    generator = torch.Generator().manual_seed(settings.seed)
    sampler = CropSampler(load_clips(find_clips(settings.data), settings.max_frames), frames_per_snapshot, generator)
    fixed_mask = load_mask(settings.mask) if settings.mask else None
    out.mkdir(parents=True, exist_ok=True)  # after every input was read: a bad input leaves no empty run folder
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    step = _resume(out, model, optimizer, generator)
    total = settings.epochs * settings.iters_per_epoch
    started, losses, loss = time.monotonic(), [], float("nan")
    bar = tqdm(total=total, initial=step, disable=not progress, desc=f"sci train {settings.preset}")
    model.train()
    while step < total:
        epoch = step // settings.iters_per_epoch
        for group in optimizer.param_groups:
            group["lr"] = settings.lr_at(epoch)
        loss = _step(model, optimizer, *_batch(sampler, settings, settings.crop_at(epoch), fixed_mask))
        step, losses = step + 1, losses + [loss]
        bar.update(1)
        bar.set_postfix(epoch=epoch, loss=f"{loss:.5f}")
        out_of_time = settings.time_limit_s is not None and time.monotonic() - started > settings.time_limit_s
        if out_of_time or step == total or step % settings.save_every == 0 or step % settings.iters_per_epoch == 0:
            _save(out, model, optimizer, generator, settings, step, sum(losses) / len(losses))
            losses = []
        if out_of_time:
            break
    bar.close()
    return TrainResult(step, loss, out / WEIGHTS)


def _step(model: nn.Module, optimizer: torch.optim.Optimizer, frames: torch.Tensor, mask: torch.Tensor) -> float:
    """One MSE gradient step on a batch; the batch loss."""
    loss = nn.functional.mse_loss(model(measure(frames, mask), mask), frames)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def _resume(out: Path, model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator) -> int:
    """Load the last saved state from ``out`` if there is one; the step to continue from."""
    if not (out / STATE).exists():
        return 0
    model.load_state_dict(read_safetensors(out / WEIGHTS)[0])
    state = load_state(out / STATE)
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    return int(state["step"])


def _save(out: Path, model, optimizer, generator, settings: TrainSettings, step: int, loss: float) -> None:
    info = {"preset": settings.preset, "step": step, "epoch": step / settings.iters_per_epoch, "loss": loss}
    save_weights(out / WEIGHTS, model, info)
    save_state(out / STATE, {"optimizer": optimizer.state_dict(), "generator": generator.get_state(), "step": step})
    with open(out / "log.jsonl", "a") as log:
        log.write(json.dumps({**info, "lr": optimizer.param_groups[0]["lr"], "time": time.time()}) + "\n")
