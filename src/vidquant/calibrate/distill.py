"""Teacher-student distillation without labels: the student's quantizer parameters (or all of
its parameters) learn to reproduce the float teacher's outputs.

Random draws inside the forward (e.g. a codec's noisy rate estimate) come from a generator seeded
per step, the same for teacher and student. Resumable (a checkpoint folder holds the student, the
optimizer and the progress), guarded against NaN/inf (skip the step, warn, halve the learning rate), and data parallel across
``torchrun`` processes (gloo on CPU) with the same call.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import torch
import torch.distributed as dist
import torch.nn as nn
from tqdm.auto import tqdm

from vidquant.calibrate.ptq import calibrate_ptq
from vidquant.errors import VidquantError
from vidquant.io.checkpoint import load_torch_weights, read_safetensors, write_safetensors
from vidquant.quant.api import quantizers
from vidquant.quant.runner import Forward, first_non_finite, non_finite_error, resolve_forward, tensors_in

LossFn = Callable[[Any, Any], torch.Tensor]
TRAINABLE = ("scales", "all")
LR_MODES = ("relative", "absolute")
_INIT_BATCHES = 4


@dataclass
class DistillResult:
    steps: int
    initial_loss: float
    final_loss: float
    lr_factor: float  # 1.0, halved once per skipped non-finite step
    skipped_steps: int
    losses: list[float] = field(default_factory=list)


def distill(
    student: nn.Module,
    teacher: nn.Module,
    batches: Sequence[Any],
    *,
    trainable: str = "scales",
    epochs: int = 1,
    lr: float = 1e-4,
    lr_mode: str = "relative",
    loss: Union[str, LossFn] = "mse",
    forward: Optional[Forward] = None,
    checkpoint_dir: Optional[Union[str, Path]] = None,
    checkpoint_every: int = 50,
    until_step: Optional[int] = None,
    seed: int = 0,
    progress: bool = True,
    train_only: Optional[Sequence[str]] = None,
    weight_lr: Optional[float] = None,
    frozen: Sequence[str] = (),
    check_finite: bool = True,
) -> DistillResult:
    """Train ``student`` to match ``teacher`` on ``batches`` (an indexable sequence of inputs).

    Each epoch visits the batches in a seeded random order, split across ranks when running
    under ``torchrun``. ``checkpoint_dir`` makes the run resumable: calling again with the same
    arguments continues where it stopped. ``until_step`` stops early (e.g. to be resumed later).

    ``lr_mode="relative"`` (default): each quantizer's step and offset learn at ``lr`` times that
    quantizer's mean step size, so a step of 1e-3 and one of 1 move by the same fraction (Adam
    otherwise moves every parameter by about ``lr`` in absolute terms). Float weights
    (``trainable="all"``) always use ``lr`` as it is (or ``weight_lr`` when given: weights and step
    sizes usually want different rates). ``"absolute"`` uses ``lr`` everywhere.

    ``train_only``: names of the submodules whose parameters may change (default: the whole
    student), e.g. only the quantized layers, so that ``trainable="all"`` leaves the rest float.
    """
    if trainable not in TRAINABLE:
        raise VidquantError(f"trainable must be one of {', '.join(TRAINABLE)}, got {trainable!r}")
    if lr_mode not in LR_MODES:
        raise VidquantError(f"lr_mode must be one of {', '.join(LR_MODES)}, got {lr_mode!r}")
    if len(batches) == 0:
        raise VidquantError("distill needs at least one batch")
    forward = resolve_forward(student, forward, "distill")
    loss_fn = _resolve_loss(loss)
    rank, world = _distributed_context()
    teacher.eval()
    student.eval()  # no dropout / batch-norm updates: the student only learns its parameters
    initialize_steps(student, batches, forward, check_finite)
    params = _trainable_parameters(student, trainable, train_only, frozen)
    _broadcast(params, world)
    optimizer = torch.optim.Adam(_param_groups(student, params, lr, lr_mode, weight_lr), lr=lr)
    for group in optimizer.param_groups:
        group["initial_lr"] = group["lr"]
    state = _TrainerState()
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None and (ckpt / _TRAINER_FILE).exists():
        state = _load_checkpoint(ckpt, student, optimizer)

    steps_per_epoch = math.ceil(len(batches) / world)
    total = steps_per_epoch * epochs
    last = total if until_step is None else min(total, until_step)
    bar = tqdm(total=total, initial=state.step, desc="distill", disable=not progress or rank != 0, leave=False)
    while state.step < last:
        epoch, position = divmod(state.step, steps_per_epoch)
        order = _epoch_order(len(batches), seed, epoch)
        batch = batches[order[(position * world + rank) % len(batches)]]
        with torch.random.fork_rng(devices=[]):  # fresh draws per step, reproducible, resumable
            torch.manual_seed(seed * 1_000_003 + state.step)
            value = _train_step(student, teacher, batch, forward, loss_fn, params, optimizer, world)
        state.record(value)
        if not math.isfinite(value):
            _halve_lr(optimizer)
            warnings.warn(f"step {state.step}: non-finite loss or gradient; step skipped, lr halved", stacklevel=2)
        bar.update(1)
        bar.set_postfix(loss=f"{value:.3g}")
        if ckpt is not None and rank == 0 and (state.step % checkpoint_every == 0 or state.step == last):
            _save_checkpoint(ckpt, student, optimizer, state)
    bar.close()
    if check_finite and state.step and state.skipped == state.step:
        layer = first_non_finite(student, forward, batch)
        raise non_finite_error(f"distill: all {state.step} step(s) were non-finite", layer,
                               "check that layer's steps and the float model on these batches "
                               "(check_finite=False returns the result instead)")
    return state.result(optimizer)


# ---- one step --------------------------------------------------------------------------
def _train_step(
    student: nn.Module,
    teacher: nn.Module,
    batch: Any,
    forward: Forward,
    loss_fn: LossFn,
    params: list[nn.Parameter],
    optimizer: torch.optim.Optimizer,
    world: int,
) -> float:
    """Forward, backward, all-reduce, guarded update; returns the loss (nan if the step was skipped)."""
    optimizer.zero_grad(set_to_none=False)
    draws = torch.get_rng_state()
    with torch.no_grad():
        target = forward(teacher, batch)
    torch.set_rng_state(draws)  # a forward that draws noise (a rate estimate) draws the same for both
    value = loss_fn(forward(student, batch), target)
    if torch.isfinite(value):
        value.backward()
    grads_ok = bool(torch.isfinite(value)) and all(bool(torch.isfinite(p.grad).all()) for p in params if p.grad is not None)
    if world > 1:
        grads_ok = _all_agree(grads_ok)
        if grads_ok:
            _average_gradients(params, world)
            value = value.detach().clone()
            dist.all_reduce(value)
            value = value / world
    if not grads_ok:
        optimizer.zero_grad(set_to_none=False)
        return math.nan
    optimizer.step()
    _keep_steps_positive(student)
    return float(value.detach())


MIN_STEP = 1e-8  # a learned step below this would overflow x / s; clamping keeps the model finite


def _keep_steps_positive(model: nn.Module) -> None:
    with torch.no_grad():
        for _, quantizer in quantizers(model):
            scale = getattr(quantizer, "scale", None)
            if isinstance(scale, nn.Parameter):
                scale.clamp_(min=MIN_STEP)


def _halve_lr(optimizer: torch.optim.Optimizer) -> None:
    for group in optimizer.param_groups:
        group["lr"] *= 0.5


# ---- set-up ----------------------------------------------------------------------------
def _resolve_loss(loss: Union[str, LossFn]) -> LossFn:
    if callable(loss):
        return loss
    if loss != "mse":
        raise VidquantError(f"unknown loss {loss!r}; use 'mse' or a callable(student_out, teacher_out)")
    return mse_over_outputs


def mse_over_outputs(student_out: Any, teacher_out: Any) -> torch.Tensor:
    """Mean squared error summed over every tensor in (possibly nested) model outputs."""
    pairs = list(zip(tensors_in(student_out), tensors_in(teacher_out)))
    if not pairs:
        raise VidquantError("model outputs hold no tensors to compare")
    return sum(nn.functional.mse_loss(s.float(), t.float()) for s, t in pairs)  # type: ignore[return-value]


def _trainable_parameters(
    student: nn.Module, trainable: str, train_only: Optional[Sequence[str]] = None, frozen: Sequence[str] = ()
) -> list[nn.Parameter]:
    quantizer_params = {id(p) for _, q in quantizers(student) for p in q.parameters()}
    allowed = None if train_only is None else {
        id(p) for name in train_only for p in student.get_submodule(name).parameters()}
    fixed = {id(p) for name in frozen for p in student.get_submodule(name).parameters()}
    chosen = [p for p in student.parameters()
              if (trainable == "all" or id(p) in quantizer_params) and (allowed is None or id(p) in allowed)
              and id(p) not in fixed]
    for parameter in student.parameters():
        parameter.requires_grad_(any(parameter is p for p in chosen))
    if not chosen:
        raise VidquantError("the student has no trainable quantizer parameters (use an LSQ recipe or trainable='all')")
    return chosen


def _param_groups(
    student: nn.Module, params: list[nn.Parameter], lr: float, lr_mode: str, weight_lr: Optional[float] = None
) -> list[dict]:
    """One group per quantizer (learning rate scaled by its step size), one for everything else."""
    chosen = {id(p) for p in params}
    groups, grouped = [], set()
    for _, quantizer in quantizers(student):
        own = [p for p in quantizer.parameters() if id(p) in chosen]
        if not own:
            continue
        scale = lr * float(quantizer.scale.detach().abs().mean()) if lr_mode == "relative" else lr
        groups.append({"params": own, "lr": scale})
        grouped.update(id(p) for p in own)
    rest = [p for p in params if id(p) not in grouped]
    return groups + ([{"params": rest, "lr": lr if weight_lr is None else weight_lr}] if rest else [])


def initialize_steps(
    student: nn.Module, batches: Sequence[Any], forward: Optional[Forward] = None, check_finite: bool = True
) -> None:
    """Step sizes start from data (the first batches), then stay locked; when every quantizer
    is initialized already (e.g. by a caller that adjusts some ranges first) nothing changes."""
    if any(not q.is_initialized for _, q in quantizers(student)):
        count = min(len(batches), _INIT_BATCHES)
        with warnings.catch_warnings():  # only this note; a zero-range fallback still warns
            warnings.filterwarnings("ignore", message=r"\d+ quantizer\(s\) already initialized keep their step sizes")
            calibrate_ptq(student, [batches[i] for i in range(count)], forward, check_finite=check_finite)


def _epoch_order(count: int, seed: int, epoch: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(count, generator=generator).tolist()


# ---- distributed -----------------------------------------------------------------------
def _distributed_context() -> tuple[int, int]:
    """(rank, world size); joins the torchrun process group (gloo) when launched by torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    """False in every ``torchrun`` process but rank 0: the one that writes results (the student is
    the same in every rank after ``distill``)."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _broadcast(params: list[nn.Parameter], world: int) -> None:
    if world > 1:
        with torch.no_grad():
            for parameter in params:
                dist.broadcast(parameter.data, src=0)


def _average_gradients(params: list[nn.Parameter], world: int) -> None:
    for parameter in params:
        if parameter.grad is None:
            parameter.grad = torch.zeros_like(parameter)
        dist.all_reduce(parameter.grad)
        parameter.grad /= world


def _all_agree(flag: bool) -> bool:
    value = torch.tensor(0.0 if flag else 1.0)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return value.item() == 0.0


# ---- progress and checkpoints ----------------------------------------------------------
_STUDENT_FILE = "student.safetensors"
_TRAINER_FILE = "trainer.pt"


@dataclass
class _TrainerState:
    step: int = 0
    skipped: int = 0
    losses: list[float] = field(default_factory=list)

    def record(self, value: float) -> None:
        self.step += 1
        self.losses.append(value)
        self.skipped += int(not math.isfinite(value))

    def result(self, optimizer: torch.optim.Optimizer) -> DistillResult:
        finite = [v for v in self.losses if math.isfinite(v)]
        return DistillResult(
            steps=self.step,
            initial_loss=finite[0] if finite else math.nan,
            final_loss=finite[-1] if finite else math.nan,
            lr_factor=optimizer.param_groups[0]["lr"] / optimizer.param_groups[0]["initial_lr"],
            skipped_steps=self.skipped,
            losses=list(self.losses),
        )


def _save_checkpoint(folder: Path, student: nn.Module, optimizer: torch.optim.Optimizer, state: _TrainerState) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {key: value.detach().clone() for key, value in student.state_dict().items()}
    write_safetensors(folder / (_STUDENT_FILE + ".tmp"), tensors, {"step": str(state.step)})
    trainer = {"optimizer": optimizer.state_dict(), "progress": json.dumps(state.__dict__)}
    torch.save(trainer, folder / (_TRAINER_FILE + ".tmp"))
    os.replace(folder / (_STUDENT_FILE + ".tmp"), folder / _STUDENT_FILE)
    os.replace(folder / (_TRAINER_FILE + ".tmp"), folder / _TRAINER_FILE)


def _load_checkpoint(folder: Path, student: nn.Module, optimizer: torch.optim.Optimizer) -> _TrainerState:
    tensors, _ = read_safetensors(folder / _STUDENT_FILE)
    missing, unexpected = student.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise VidquantError(f"{folder}: checkpoint does not match the student (missing {missing[:3]}, unexpected {unexpected[:3]})")
    trainer = load_torch_weights(folder / _TRAINER_FILE)
    optimizer.load_state_dict(trainer["optimizer"])
    return _TrainerState(**json.loads(trainer["progress"]))
