"""Acceptance 7 and the trainer's promises: resumable, NaN-guarded, data parallel."""

import copy
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.calibrate.students import laplace_batches, laplace_teacher
from vidquant import calibrate_ptq, distill, quantize
from vidquant.errors import VidquantError
from vidquant.quant import resolve_recipe

REPO = Path(__file__).resolve().parents[2]


def minmax_w4a4():
    base = resolve_recipe("w4a8-lsq")
    return dataclasses.replace(
        base,
        name="w4a4-lsq-minmax-init",
        weight=dataclasses.replace(base.weight, observer="minmax"),
        input=dataclasses.replace(base.input, bits=4, observer="minmax"),
    )


def _mse(student, teacher, batches) -> float:
    with torch.no_grad():
        return sum((student(x) - teacher(x)).pow(2).mean().item() for x in batches) / len(batches)


def _student(teacher, batches):
    student = quantize(copy.deepcopy(teacher), minmax_w4a4())
    return calibrate_ptq(student, batches[:4])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fifty_steps_of_scale_distillation_halve_the_mse(seed):
    teacher, batches = laplace_teacher(seed=seed), laplace_batches(seed=seed + 10)
    student = _student(teacher, batches)
    initial = _mse(student, teacher, batches)
    weights = {k: v.clone() for k, v in student.state_dict().items() if k.endswith(".weight")}
    result = distill(student, teacher, batches, epochs=7, until_step=50, lr=0.05, progress=False)
    final = _mse(student, teacher, batches)
    assert result.steps == 50
    assert initial / final >= 2.0, (initial, final)
    assert all(torch.equal(v, student.state_dict()[k]) for k, v in weights.items())  # only scales trained


def test_stop_and_resume_equals_uninterrupted(tmp_path):
    teacher, batches = laplace_teacher(width=8), laplace_batches(count=4)
    straight = _student(teacher, batches)
    distill(straight, teacher, batches, epochs=3, lr=1e-2, progress=False, seed=5)

    resumed = _student(teacher, batches)
    distill(resumed, teacher, batches, epochs=3, lr=1e-2, progress=False, seed=5, checkpoint_dir=tmp_path, until_step=5, checkpoint_every=2)
    fresh = _student(teacher, batches)  # a new process would rebuild the student like this
    result = distill(fresh, teacher, batches, epochs=3, lr=1e-2, progress=False, seed=5, checkpoint_dir=tmp_path)
    assert result.steps == 12
    for key, value in straight.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[key]), key


def test_nan_loss_skips_step_halves_lr_and_keeps_model():
    teacher, batches = laplace_teacher(width=8), laplace_batches(count=3)
    poisoned = [batches[0], torch.full_like(batches[1], float("nan")), batches[2]]
    student = _student(teacher, batches)
    with pytest.warns(UserWarning, match="non-finite loss or gradient; step skipped, lr halved"):
        result = distill(student, teacher, poisoned, epochs=1, lr=1e-2, progress=False)
    assert result.skipped_steps == 1 and result.lr_factor == pytest.approx(0.5)
    assert all(torch.isfinite(p).all() for p in student.parameters())


def test_bad_trainable_and_float_student_are_clear_errors():
    teacher, batches = laplace_teacher(width=8), laplace_batches(count=2)
    with pytest.raises(VidquantError, match="trainable must be one of scales, all"):
        distill(copy.deepcopy(teacher), teacher, batches, trainable="weights")
    with pytest.raises(VidquantError, match="lr_mode must be one of relative, absolute"):
        distill(quantize(copy.deepcopy(teacher), "w8a8-lsq"), teacher, batches, lr_mode="fast")
    with pytest.raises(VidquantError, match="no trainable quantizer parameters"):
        distill(quantize(copy.deepcopy(teacher), "weight-only-int8"), teacher, batches, progress=False)


def test_torchrun_two_processes_end_with_identical_parameters(tmp_path):
    env = dict(os.environ, PYTHONPATH=f"{REPO / 'src'}{os.pathsep}{REPO}", OMP_NUM_THREADS="1")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        str(REPO / "tests" / "calibrate" / "ddp_worker.py"), str(tmp_path),
    ]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    before = torch.load(tmp_path / "initial.pt", weights_only=True)
    assert any(not torch.equal(before[k], rank0[k]) for k in before)  # training did move the steps


def test_train_only_keeps_other_modules_and_weight_lr_sets_the_weights_rate():
    teacher, batches = laplace_teacher(width=8), laplace_batches(count=3)
    student = _student(teacher, batches)
    frozen = {k: v.clone() for k, v in student.state_dict().items() if k.startswith("0.")}
    trained = {k: v.clone() for k, v in student.state_dict().items() if k.startswith("2.")}
    distill(student, teacher, batches, trainable="all", epochs=2, lr=1e-2, weight_lr=1e-3, progress=False,
            train_only=["2"])
    assert all(torch.equal(v, student.state_dict()[k]) for k, v in frozen.items())
    moved = {k for k, v in trained.items() if not torch.equal(v, student.state_dict()[k])}
    assert {"2.weight", "2.bias"} <= moved
    # Adam moves each weight by about the rate per step: 6 steps at 1e-3 stay well under 6 * 1e-2
    assert (student.state_dict()["2.weight"] - trained["2.weight"]).abs().max() <= 6 * 1e-3 * 1.5


def test_frozen_quantizers_keep_their_steps_while_the_others_learn():
    teacher, batches = laplace_teacher(width=8), laplace_batches(count=3)
    student = _student(teacher, batches)
    before = {k: v.clone() for k, v in student.state_dict().items() if k.endswith("scale")}
    distill(student, teacher, batches, epochs=2, lr=1e-2, progress=False, frozen=["0.input_quant"])
    after = student.state_dict()
    assert torch.equal(before["0.input_quant.scale"], after["0.input_quant.scale"])
    assert any(not torch.equal(v, after[k]) for k, v in before.items() if not k.startswith("0.input_quant"))


def test_teacher_and_student_draw_the_same_noise_per_step_and_runs_repeat():
    teacher, batches = laplace_teacher(width=8), laplace_batches(count=3)

    def run() -> list[torch.Tensor]:
        draws = []

        def loss(student_out, teacher_out):
            draws.append(student_out[1])
            assert torch.equal(student_out[1], teacher_out[1])  # the same draw for both models
            return (student_out[0] - teacher_out[0]).pow(2).mean()

        distill(_student(teacher, batches), teacher, batches, epochs=2, lr=1e-2, progress=False, loss=loss,
                forward=lambda model, x: [model(x), torch.rand(4)])
        return draws

    first, second = run(), run()
    assert len(first) == 6 and len({tuple(d.tolist()) for d in first}) == 6  # fresh draws every step
    assert all(torch.equal(a, b) for a, b in zip(first, second))
