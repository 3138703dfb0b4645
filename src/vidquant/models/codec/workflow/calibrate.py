"""Calibration of a decoder-quantized DCVC-RT by distillation from the float codec.

Teacher: the float codec. Student: a copy whose decoder-side modules are quantized
(``quantize_decoder``). Data: crops of real frames from a DCVC-style calibration config, as
I + K P-frame chains; the student codes each chain from its own reconstructions, so the loss
(MSE between teacher and student reconstructions, optionally also the P-frame features) trains
against error accumulation over the group of pictures. Only the quantized decoder layers learn
(with ``trainable="all"`` their weights and biases too): the encoder and the per-qp tables stay
the teacher's. ``epochs=0`` gives the round-to-nearest
baseline: step sizes from the recipe's observers on the first batches, no distillation.
"""

from __future__ import annotations

import contextlib
import copy
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from tqdm import tqdm

from vidquant.calibrate import (
    DistillResult,
    distill,
    initialize_steps,
    mse_over_outputs,
)
from vidquant.errors import VidquantError
from vidquant.io.dataset import DatasetConfig
from vidquant.quant import snap_to_checkpoint
from vidquant.quant.checkpoint import save_quantized
from vidquant.quant.recipes import RecipeLike, integer_form

from ..coding.pipeline import model_fingerprint
from ..coding.sequence import crop_to_tensor
from ..coding.yuvfile import Planes, read_video
from ..net.config import QP_NUM
from ..net.model import DCVCRT
from .augment import check_colour_share, maybe_shift_colours
from .quantize_decoder import (
    RECURRENT_PATH,
    decoder_plan,
    quantize_decoder,
    quantized_module_names,
    recurrent_graph_quantizers,
    recurrent_layers,
)


# "recipe": the recipe as it is; "graph": its integer form (graph scope, integer-kernel numerics).
CALIB_SCOPES = ("recipe", "graph")


@dataclass(frozen=True)
class CalibSettings:
    """Everything that defines a calibration run (written into the student's metadata)."""

    recipe: str = "w8a8-lsq"
    epochs: int = 10
    lr: float = 1e-4
    trainable: str = "scales"
    weight_lr: float | None = None  # absolute Adam rate of the layers' weights and biases (trainable "all"); None: lr
    gop_unroll: int = 3  # P-frames per chain
    crop: int = 64  # multiple of 16
    batch: int = 4  # chains per step
    chains_per_sequence: int = 16
    match_features: bool = False  # also match the P-frame features (the next frame's reference)
    rate_weight: float = 0.0  # also penalize the student's estimated rate above the teacher's (see chain_loss)
    seed: int = 0
    range_frames: int = 32  # P-frames of the long float chains that set the recurrent path's ranges; 0: off
    low_bit_picture_layers: bool = False  # weights below 8 bits: also in the picture layers (default: 8 bits there)
    colour_aug: float = 0.0  # share of chains given a random hue rotation and saturation gain (augment.py)
    scope: str = "recipe"  # "graph": the recipe's integer form (quant.recipes.integer_form), what ONNX Runtime runs

    @property
    def decoder_recipe(self) -> RecipeLike:
        """The recipe the decoder is quantized with: ``recipe``, or its integer form (``scope`` graph)."""
        return integer_form(self.recipe) if self.scope == "graph" else self.recipe

    def __post_init__(self) -> None:
        if self.crop % 16 or self.crop <= 0:
            raise VidquantError(f"crop must be a positive multiple of 16, got {self.crop}")
        if self.gop_unroll < 1:
            raise VidquantError(f"gop_unroll must be at least 1, got {self.gop_unroll}")
        if self.rate_weight < 0:
            raise VidquantError(f"rate_weight must be >= 0, got {self.rate_weight}")
        if self.epochs < 0 or self.batch < 1 or self.chains_per_sequence < 1:
            raise VidquantError("epochs must be >= 0, batch and chains_per_sequence >= 1")
        if self.scope not in CALIB_SCOPES:
            raise VidquantError(f"scope must be one of {', '.join(CALIB_SCOPES)}, got {self.scope!r}")
        if self.range_frames < 0:
            raise VidquantError(f"range_frames must be >= 0, got {self.range_frames}")
        check_colour_share(self.colour_aug)


# --------------------------------------------------------------------------- batches


Batch = tuple[torch.Tensor, torch.Tensor]  # frames [B, 1 + K, 3, crop, crop], qp [B]


def sequence_chains(frames: list[Planes], settings: CalibSettings, rng: np.random.Generator) -> list[torch.Tensor]:
    """``chains_per_sequence`` random aligned crops of 1 + K consecutive frames."""
    length = settings.gop_unroll + 1
    height, width = frames[0][0].shape
    if len(frames) < length or min(height, width) < settings.crop:
        raise VidquantError(f"a calibration sequence needs >= {length} frames of >= {settings.crop}x{settings.crop}")
    chains = []
    for _ in range(settings.chains_per_sequence):
        start = int(rng.integers(len(frames) - length + 1))
        top = 2 * int(rng.integers((height - settings.crop) // 2 + 1))
        left = 2 * int(rng.integers((width - settings.crop) // 2 + 1))
        chain = torch.stack([crop_to_tensor(frames[start + t], top, left, settings.crop, settings.crop)
                             for t in range(length)])
        chains.append(maybe_shift_colours(chain, settings.colour_aug, rng))
    return chains


def calibration_batches(sequences: list[tuple[str, list[Planes]]], settings: CalibSettings) -> list[Batch]:
    """Chains of every sequence, shuffled into batches; qps spread evenly over 0..63."""
    rng = np.random.default_rng(settings.seed)
    chains = [chain for _, frames in sequences for chain in sequence_chains(frames, settings, rng)]
    order = rng.permutation(len(chains))
    qps = np.round(np.linspace(0, QP_NUM - 1, len(chains))).astype(np.int64)[rng.permutation(len(chains))]
    batches = []
    for start in range(0, len(chains), settings.batch):
        picked = order[start : start + settings.batch]
        batches.append((torch.stack([chains[i] for i in picked]), torch.from_numpy(qps[picked])))
    return batches


def load_sequences(config: DatasetConfig, max_frames: int | None = None) -> list[tuple[str, list[Planes]]]:
    """(name, frames) of every enabled sequence of a DCVC-style config (.yuv or PyAV-decodable)."""
    loaded = []
    for _, seq in config.enabled():
        frames = seq.frames if max_frames is None else min(seq.frames, max_frames)
        loaded.append((seq.name, list(read_video(seq.path, (seq.width, seq.height), frames))))
    return loaded


# --------------------------------------------------------------------------- the unrolled chain


def chain_forward(codec: DCVCRT, batch: Batch, match_features: bool = False, rate: bool = False) -> list[torch.Tensor]:
    """Reconstructions of an I + K P chain (each P-frame referencing the model's own output);
    with ``rate`` the last entry is the estimated bits of every frame, [B, 1 + K]."""
    frames, qp = batch
    pictures, features, bits = codec(frames, qp)
    outputs = [pictures[0]]
    for picture, feature in zip(pictures[1:], features):
        outputs += [picture, feature] if match_features else [picture]
    return outputs + [torch.stack(bits, dim=1)] if rate else outputs


def chain_loss(rate_weight: float):
    """Distillation loss of ``chain_forward(..., rate=True)`` outputs: MSE to the teacher's tensors
    plus ``rate_weight`` times the student's relative rate change, summed over the frames.

    The reconstruction MSE alone does not see the entropy-parameter networks (hyperprior decoder,
    prior fusion, spatial prior), whose errors cost bits, not quality. The term is signed: a
    student spending fewer bits than the teacher lowers the loss, so it is a rate-distortion
    objective around the teacher, not only a match (tried: the absolute change, which only
    matches, ended +5 % BD-rate at W8A8 where the signed one ended -4 %). Units: with the teacher's
    distortion D, a deviation e costs about 4.34 e / D dB and 1 % rate about 0.04 dB, so
    ``rate_weight`` ~ D * 0.04 / 4.34 / 0.01 ~ 1e-3 weighs both as a BD measure would.
    """
    def loss(student: list[torch.Tensor], teacher: list[torch.Tensor]) -> torch.Tensor:
        change = (student[-1] - teacher[-1]) / teacher[-1].clamp(min=1.0)
        return mse_over_outputs(student[:-1], teacher[:-1]) + rate_weight * change.mean(dim=0).sum()
    return loss


# --------------------------------------------------------------------------- recurrent ranges

RANGE_QPS = (0, 21, 42, 63)  # qps of the long chains that measure the recurrent path's ranges
# A stable float codec needed at most x3 here (dcvc-rt-small); one whose reference feature
# diverges at low rates gave x1000 and more, which leaves 8 bits no resolution.
SUSPICIOUS_GROWTH = 10.0


def _full_chain(frames: list[Planes], length: int) -> torch.Tensor:
    """[1, length, 3, H, W]: the first frames, whole, cut to multiples of 16 (top left)."""
    height, width = (side - side % 16 for side in frames[0][0].shape)
    return torch.stack([crop_to_tensor(planes, 0, 0, height, width) for planes in frames[:length]])[None]


@torch.no_grad()
def widen_recurrent_ranges(
    teacher: DCVCRT, student: DCVCRT, sequences: list[tuple[str, list[Planes]]], p_frames: int, progress: bool = False,
    globs: tuple[str, ...] = RECURRENT_PATH,
) -> list[str]:
    """Widen the input ranges of the student's recurrent-path layers (``globs``: the decoder
    plan's ``frozen_ranges``, ``RECURRENT_PATH``) to what
    the float teacher feeds them over long chains (whole frames of each calibration sequence,
    I + up to ``p_frames`` P-frames, qps ``RANGE_QPS``); returns the widened quantizers' names.

    Why: these inputs carry the reference from frame to frame, and their outliers grow along
    the group of pictures. Ranges fitted on short chains clip them, and a codec that clips its
    recurrent state behaves differently from the float one deep into a GOP: on the small model
    (round to nearest) the closed-loop PSNR gap moved by +0.09 dB from the first to the 32nd
    P-frame with such ranges and by +0.03 dB with these. Distillation on short chains would
    shrink them again, so the caller keeps them frozen."""
    names = recurrent_layers(student, globs)
    ranges = _chain_ranges(teacher, names, sequences, p_frames, progress)
    widened = _widen(student, {f"{name}.input_quant": value for name, value in ranges.items()}, p_frames)
    graph = recurrent_graph_quantizers(student, globs)
    if graph:  # graph scope: every tensor of the recurrent networks, which only the student makes
        with _unclipped(student, graph):
            ranges = _chain_ranges(student, graph, sequences, p_frames, progress)
        widened += _widen(student, ranges, p_frames)
    return widened


@contextlib.contextmanager
def _unclipped(student: DCVCRT, names: list[str]) -> Iterator[None]:
    """The quantizers ``names`` pass their input through unchanged while inside, so that the
    ranges recorded downstream are those of unclipped upstream tensors."""
    quantizers = [student.get_submodule(name) for name in names]
    for quantizer in quantizers:
        quantizer.export_fn = _identity
    try:
        yield
    finally:
        for quantizer in quantizers:
            quantizer.export_fn = None


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


Range = tuple[torch.Tensor, torch.Tensor]


def _chain_ranges(model: DCVCRT, names: list[str], sequences: list[tuple[str, list[Planes]]], p_frames: int,
                  progress: bool) -> dict[str, Range]:
    """The (min, max) of the first input of each submodule ``names`` of ``model`` over the long
    chains (whole frames, I + up to ``p_frames`` P-frames, qps ``RANGE_QPS``)."""
    low = {name: torch.tensor(float("inf")) for name in names}
    high = {name: torch.tensor(float("-inf")) for name in names}

    def recorder(name: str):
        def record(module: torch.nn.Module, args: tuple) -> None:
            low[name] = torch.minimum(low[name], args[0].min())
            high[name] = torch.maximum(high[name], args[0].max())
        return record

    hooks = [model.get_submodule(name).register_forward_pre_hook(recorder(name)) for name in names]
    bar = tqdm(total=len(sequences) * len(RANGE_QPS), desc="recurrent ranges", unit="chain", disable=not progress,
               leave=False)
    try:
        for _, frames in sequences:  # one whole-frame chain in memory at a time
            usable = len(frames) >= 2 and min(frames[0][0].shape) >= 16
            chain = _full_chain(frames, 1 + p_frames) if usable else None
            for qp in RANGE_QPS:
                if chain is not None:
                    chain_forward(model, (chain, torch.tensor([qp])))
                bar.update(1)
    finally:
        bar.close()
        for hook in hooks:
            hook.remove()
    return {name: (low[name], high[name]) for name in names}


def _widen(student: DCVCRT, ranges: dict[str, Range], p_frames: int) -> list[str]:
    """Widen each quantizer (by module name) to its range; returns those whose step grew."""
    widened = []
    for name, (low, high) in ranges.items():
        quantizer = student.get_submodule(name)
        before = float(quantizer.scale.detach().reshape(-1)[0]) if quantizer.is_initialized else None
        if torch.isfinite(low) and quantizer.widen_to(low, high):
            widened.append(name)
            growth = float(quantizer.scale.detach().reshape(-1)[0]) / before if before else 1.0
            if growth > SUSPICIOUS_GROWTH:
                warnings.warn(f"{name}: input range x{growth:.0f} wider on {p_frames}-frame float chains than on the "
                              "calibration crops; the float codec's recurrent state may be diverging", stacklevel=2)
    return widened


# --------------------------------------------------------------------------- calibration


@dataclass
class CalibResult:
    student: DCVCRT
    distill: DistillResult
    seconds: float
    sequences: list[str]
    widened: list[str]  # input quantizers whose ranges came from long float chains (kept fixed)


def calibrate_codec(
    teacher: DCVCRT,
    sequences: list[tuple[str, list[Planes]]],
    settings: CalibSettings,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
) -> CalibResult:
    """Quantize a copy of ``teacher``'s decoder and distill it on chains from ``sequences``."""
    start = time.perf_counter()
    teacher = teacher.eval()
    fingerprint = model_fingerprint(teacher)
    plan = decoder_plan(settings.decoder_recipe, settings.low_bit_picture_layers)
    student = quantize_decoder(copy.deepcopy(teacher), settings.decoder_recipe, settings.low_bit_picture_layers)
    batches = calibration_batches(sequences, settings)
    rate = settings.rate_weight > 0

    def forward(model: DCVCRT, batch: Batch) -> list[torch.Tensor]:
        return chain_forward(model, batch, settings.match_features, rate)

    initialize_steps(student, batches, forward)
    frozen = (widen_recurrent_ranges(teacher, student, sequences, settings.range_frames, progress, plan.frozen_ranges)
              if settings.range_frames else [])
    result = distill(
        student, teacher, batches,
        trainable=settings.trainable, epochs=settings.epochs, lr=settings.lr,
        forward=forward,
        loss=chain_loss(settings.rate_weight) if rate else "mse",
        checkpoint_dir=checkpoint_dir, seed=settings.seed, progress=progress,
        train_only=quantized_module_names(student), weight_lr=settings.weight_lr, frozen=frozen,
    )
    snap_to_checkpoint(student)  # the student in memory = the one its file reproduces (one fingerprint)
    student.float_fingerprint = fingerprint
    return CalibResult(student.eval(), result, time.perf_counter() - start, [name for name, _ in sequences], frozen)


def save_student(result: CalibResult, settings: CalibSettings, path: str | Path, extra: dict[str, Any] | None = None) -> None:
    """Write the student with its calibration record (sequences, settings, losses, wall time,
    the input quantizers whose ranges came from long float chains)."""
    metadata = {
        "calibration": result.sequences,
        "settings": asdict(settings),
        "float_fingerprint": result.student.float_fingerprint,
        "initial_loss": result.distill.initial_loss,
        "final_loss": result.distill.final_loss,
        "steps": result.distill.steps,
        "wall_s": round(result.seconds, 1),
        "recurrent_ranges": result.widened,
        **(extra or {}),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_quantized(result.student, path, extra_metadata=metadata)
