"""Side-by-side latency of several backends of one model, and the machine it was measured on.

Backends are timed in the same process and interleaved call by call (the order rotates every
round), so clock drift, thermal state and noisy neighbours hit every backend alike; a ratio
between two rows of one table is therefore meaningful even on a shared machine.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import torch
from tqdm import tqdm

from vidquant.io.text_table import format_table
from vidquant.errors import VidquantError

FP32 = "fp32"


@dataclass(frozen=True)
class Backend:
    """One way to run the model: ``run(*inputs)``, its precision label and its model file size.

    ``compare_to`` names the backend whose output this one should reproduce (an exported INT8
    graph: the PyTorch fake-quant model); by default the benchmark's reference backend.
    """

    run: Callable[..., Any]
    precision: str = ""
    size_bytes: Optional[int] = None
    note: str = ""
    compare_to: Optional[str] = None


@dataclass
class BenchRow:
    name: str
    precision: str
    median_ms: float
    min_ms: float
    runs: int
    speedup_vs_fp32: float  # fastest FP32 median / this median (> 1: faster)
    size_mb: Optional[float]
    rel_err: Optional[float]  # ||y - y_ref|| / ||y_ref||, y_ref the output of backend ``compared_to``
    compared_to: Optional[str] = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def benchmark(
    backends: Mapping[str, Union[Callable[..., Any], Backend]],
    inputs: Sequence[torch.Tensor],
    runs: int = 20,
    warmup: int = 3,
    reference: Optional[str] = None,
    progress: bool = False,
) -> list[BenchRow]:
    """Time every backend on ``inputs`` ``runs`` times, interleaved, after ``warmup`` calls each.

    Plain callables count as precision "" (unlabelled). Ratios are against the fastest backend
    labelled "fp32" (the fastest overall when none is). Each row's relative error is against
    its backend's ``compare_to``, else ``reference`` (default: the first "fp32" backend).
    """
    check_counts(runs, warmup)
    if not backends:
        raise VidquantError("benchmark needs at least one backend")
    entries = {name: value if isinstance(value, Backend) else Backend(run=value) for name, value in backends.items()}
    fp32 = [name for name, backend in entries.items() if backend.precision == FP32]
    targets = _comparison_targets(entries, reference or (fp32[0] if fp32 else None))
    outputs = {name: _warm_up(backend, inputs, warmup) for name, backend in entries.items()}
    times = _timed_rounds(entries, inputs, runs, progress)
    medians = {name: statistics.median(samples) for name, samples in times.items()}
    baseline = min(medians[name] for name in (fp32 or entries))
    return [
        BenchRow(
            name=name,
            precision=backend.precision,
            median_ms=medians[name] * 1e3,
            min_ms=min(times[name]) * 1e3,
            runs=runs,
            speedup_vs_fp32=baseline / medians[name],
            size_mb=None if backend.size_bytes is None else backend.size_bytes / 1e6,
            rel_err=None if targets[name] is None else relative_error(outputs[name], outputs[targets[name]]),
            compared_to=targets[name],
            note=backend.note,
        )
        for name, backend in entries.items()
    ]


def _comparison_targets(entries: Mapping[str, Backend], reference: Optional[str]) -> dict[str, Optional[str]]:
    """Backend name -> the backend whose output it is compared with (None: no comparison)."""
    targets = {name: backend.compare_to or reference for name, backend in entries.items()}
    unknown = sorted({target for target in targets.values() if target is not None and target not in entries})
    if unknown:
        raise VidquantError(f"no backend named {', '.join(unknown)} to compare outputs with; backends: {', '.join(entries)}")
    return targets


def check_counts(runs: int, warmup: int) -> None:
    if runs < 1 or warmup < 0:
        raise VidquantError(f"runs must be >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")


def _warm_up(backend: Backend, inputs: Sequence[torch.Tensor], warmup: int) -> Any:
    output = backend.run(*inputs)
    for _ in range(max(warmup - 1, 0)):
        backend.run(*inputs)
    return output


def _timed_rounds(
    entries: Mapping[str, Backend], inputs: Sequence[torch.Tensor], runs: int, progress: bool
) -> dict[str, list[float]]:
    names = list(entries)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in tqdm(range(runs), desc="bench", unit="round", disable=not progress):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            entries[name].run(*inputs)
            times[name].append(time.perf_counter() - start)
    return times


def relative_error(output: Any, reference: Any) -> float:
    """Relative L2 error of (all tensors of) ``output`` against ``reference``."""
    got, want = _flat(output), _flat(reference)
    if got.shape != want.shape:
        raise VidquantError(f"backend output has {got.numel()} values, the reference {want.numel()}")
    return float((got - want).norm() / want.norm().clamp_min(1e-30))


def _flat(output: Any) -> torch.Tensor:
    tensors = output if isinstance(output, (tuple, list)) else (output,)
    return torch.cat([torch.as_tensor(t).detach().float().reshape(-1) for t in tensors])


def format_rows(rows: Sequence[BenchRow]) -> str:
    """The benchmark as a plain-text table."""
    header = ("backend", "precision", "median ms", "min ms", "x fp32", "size MB", "rel err", "vs", "note")
    cells = [
        (
            row.name,
            row.precision or "-",
            f"{row.median_ms:.2f}",
            f"{row.min_ms:.2f}",
            f"{row.speedup_vs_fp32:.2f}",
            "-" if row.size_mb is None else f"{row.size_mb:.3f}",
            "-" if row.rel_err is None else f"{row.rel_err:.1e}",
            "-" if row.compared_to is None or row.compared_to == row.name else row.compared_to,
            row.note,
        )
        for row in rows
    ]
    return format_table(header, cells, right={2, 3, 4, 5, 6})


# ---- the machine ---------------------------------------------------------------------------
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")
ALLOCATOR_ENV_PREFIXES = ("MALLOC_", "GLIBC_TUNABLES", "JE_MALLOC_CONF", "TCMALLOC_", "LD_PRELOAD")
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
ALLOCATOR_LIBRARIES = ("jemalloc", "tcmalloc", "mimalloc")


@dataclass
class MachineInfo:
    """What a latency figure depends on: CPU and its vector extensions, threads, library versions, allocator."""

    cpu_model: str
    cpu_flags: dict[str, bool]
    cores: int
    torch_threads: int
    runtime_threads: Optional[int]
    allocator: str
    allocator_env: dict[str, str]
    thread_env: dict[str, str]
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def int8_class(self) -> str:
        """The fastest int8 dot-product instruction family present (what the INT8 target depends on)."""
        for flag in ("amx_int8", "avx512_vnni", "avx_vnni", "avx2"):
            if self.cpu_flags.get(flag):
                return flag
        return "none"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "int8_class": self.int8_class}

    def format(self) -> str:
        flags = " ".join(flag for flag, present in self.cpu_flags.items() if present) or "none of " + ", ".join(CPU_FLAGS)
        versions = ", ".join(f"{name} {version}" for name, version in self.versions.items())
        env = ", ".join(f"{key}={value}" for key, value in {**self.allocator_env, **self.thread_env}.items()) or "none set"
        return "\n".join(
            [
                f"CPU: {self.cpu_model} ({self.cores} cores); flags: {flags}; int8 path: {self.int8_class}",
                f"threads: torch {self.torch_threads}, ONNX Runtime {self.runtime_threads or 'default'}; {versions}",
                f"allocator: {self.allocator}; environment: {env}",
            ]
        )


def machine_info(runtime_threads: Optional[int] = None) -> MachineInfo:
    """Describe this machine and process; ``runtime_threads`` is the ONNX Runtime thread count in use."""
    cpuinfo = _read_text("/proc/cpuinfo")
    present = set(_cpuinfo_field(cpuinfo, "flags").split())
    return MachineInfo(
        cpu_model=_cpuinfo_field(cpuinfo, "model name") or platform.processor() or platform.machine(),
        cpu_flags={flag: flag in present for flag in CPU_FLAGS},
        cores=os.cpu_count() or 1,
        torch_threads=torch.get_num_threads(),
        runtime_threads=runtime_threads,
        allocator=_allocator(),
        allocator_env={k: v for k, v in os.environ.items() if k.startswith(ALLOCATOR_ENV_PREFIXES)},
        thread_env={k: os.environ[k] for k in THREAD_ENV if k in os.environ},
        versions=_versions(),
    )


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def _cpuinfo_field(cpuinfo: str, key: str) -> str:
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return ""


def _allocator() -> str:
    """Which malloc this process uses: a preloaded/linked jemalloc/tcmalloc/mimalloc, else glibc's."""
    maps = _read_text("/proc/self/maps")
    loaded = [name for name in ALLOCATOR_LIBRARIES if f"lib{name}" in maps]
    if loaded:
        how = "LD_PRELOAD" if any(name in os.environ.get("LD_PRELOAD", "") for name in loaded) else "linked"
        return f"{', '.join(loaded)} ({how})"
    libc = platform.libc_ver()
    return f"{libc[0] or 'libc'} {libc[1]} malloc".strip()


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "torch": torch.__version__}
    for package in ("onnxruntime", "onnx", "openvino", "ai-edge-litert"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
