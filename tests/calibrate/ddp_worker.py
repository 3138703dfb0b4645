"""Run by the torchrun test: each rank distills the same student on its share of the batches."""

import copy
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from tests.calibrate.students import laplace_batches, laplace_teacher
from tests.calibrate.test_distill import minmax_w4a4
from vidquant import calibrate_ptq, distill, quantize

out = Path(sys.argv[1])
teacher, batches = laplace_teacher(width=8), laplace_batches(count=6)
student = calibrate_ptq(quantize(copy.deepcopy(teacher), minmax_w4a4()), batches[:2])
torch.manual_seed(1234 + int(__import__("os").environ["RANK"]))  # ranks differ in their RNG on purpose
initial = {k: v.clone() for k, v in student.state_dict().items()}
distill(student, teacher, batches, epochs=2, lr=1e-2, progress=False)
rank = dist.get_rank()
torch.save(student.state_dict(), out / f"rank{rank}.pt")
if rank == 0:
    torch.save(initial, out / "initial.pt")
dist.destroy_process_group()
