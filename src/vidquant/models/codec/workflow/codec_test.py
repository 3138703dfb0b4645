"""The test harness of DCVC's ``test_video.py`` on the CPU: rate points x sequences x classes.

Each job encodes one sequence at one rate point to a real bitstream, decodes it back from the
bytes, and reports what the official script reports (bits counted from the stream, PSNR of
the decoded pictures, encode/decode time per frame). Output schema:
``{class: {sequence: {"000": {ave_all_frame_bpp, ave_all_frame_psnr, ...}}}}``.
A failing job is logged and left out; the others still complete. The jobs run in this process,
in local processes (``worker``) or as Ray tasks (``cluster``), through ``vidquant.sweep``, which
also journals every finished job when given a ``Journal`` (``codec test`` resumes from it).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vidquant.deploy.bitstream import Bitstream
from vidquant.errors import VidquantError
from vidquant.io.dataset import DatasetConfig
from vidquant.sweep import Journal, SweepResult, run_jobs, write_atomic

from ..coding.pipeline import (
    EncodeSettings,
    decode_open_loop,
    decode_video,
    differing_samples,
    encode_video,
)
from ..coding.sequence import psnr_yuv420
from ..coding.yuvfile import read_yuv420
from ..net.config import QP_NUM
from ..net.model import DCVCRT
from .coding_models import BACKENDS, BuiltModels, ModelSpec, build_models, weight_fingerprints
from .quantize_decoder import calibration_record

LOG = logging.getLogger("vidquant.codec.test")


@dataclass(frozen=True)
class TestOptions:
    rate_num: int = 4
    qp_i: tuple[int, ...] | None = None
    qp_p: tuple[int, ...] | None = None
    force_intra_period: int = -1
    force_frame_num: int = -1
    reset_interval: int = 64
    write_stream: bool = False
    stream_path: str = "out_bin"
    verbose: bool = False


@dataclass(frozen=True)
class Job:
    class_name: str
    sequence: str
    path: str
    width: int
    height: int
    frames: int
    intra_period: int
    rate_index: int
    qp_i: int
    qp_p: int


def content_key(name: str) -> str:
    """What a sequence shows, from its name: the first word (``foreman_presenter_...`` -> foreman)."""
    return re.split(r"[_\-. ]", Path(name).name.lower())[0]


def check_disjoint(calibration: list[str], evaluation: list[str]) -> None:
    """Refuse calibration data that shares content with the evaluation sequences."""
    test_keys = {content_key(name): name for name in evaluation}
    shared = [f"{name} ~ {test_keys[content_key(name)]}" for name in calibration if content_key(name) in test_keys]
    if shared:
        raise VidquantError(
            "calibration and evaluation sequences overlap (" + "; ".join(shared) + "); "
            "calibrate on other content, or pass --allow_overlap to measure on seen data"
        )


def rate_points(rate_num: int, qp_i: tuple[int, ...] | None, qp_p: tuple[int, ...] | None) -> list[tuple[int, int]]:
    """(qp_i, qp_p) per rate point: given lists, else rate_num evenly spaced over 0..63."""
    if qp_i is None:
        if not 1 <= rate_num <= QP_NUM:
            raise VidquantError(f"--rate_num must be in 1..{QP_NUM}, got {rate_num}")
        qp_i = tuple(int(np.floor(v + 0.5)) for v in np.linspace(0, QP_NUM - 1, rate_num))
    qp_p = qp_i if qp_p is None else qp_p
    if len(qp_p) != len(qp_i):
        raise VidquantError(f"--qp_i has {len(qp_i)} values but --qp_p has {len(qp_p)}")
    return list(zip(qp_i, qp_p))


def jobs_from_config(config: DatasetConfig, options: TestOptions) -> list[Job]:
    """Every (sequence, rate point) of the classes marked for testing."""
    points = rate_points(options.rate_num, options.qp_i, options.qp_p)
    jobs = []
    for test_class, seq in config.enabled():
        frames = options.force_frame_num if options.force_frame_num > 0 else seq.frames
        intra = options.force_intra_period if options.force_intra_period != -1 else seq.intra_period
        for index, (qp_i, qp_p) in enumerate(points):
            jobs.append(Job(test_class.name, seq.name, str(seq.path), seq.width, seq.height, frames, intra, index,
                            qp_i, qp_p))
    return jobs


# The models built in this process (one spec at a time): every job of a worker reuses them (float
# weights read, student replayed and loaded, graphs traced and exported once per worker process,
# be it a local process or a Ray worker that runs many tasks). The key holds the weight files'
# fingerprints when given, so that a long-lived Ray worker rebuilds for a rewritten student file.
_BUILT: dict[tuple, BuiltModels] = {}


def worker_models(spec: ModelSpec, record: dict | None = None, fingerprints: tuple = ()) -> BuiltModels:
    """The models of ``spec`` built once in this process and reused by every later job."""
    key = (spec, fingerprints)
    if key not in _BUILT:
        _BUILT.clear()  # one spec at a time: a worker serving several sweeps keeps only the current models
        _BUILT[key] = build_models(spec, record)
    return _BUILT[key]


def _decode(spec: ModelSpec, encoder: DCVCRT, decoder: DCVCRT, data: bytes) -> list:
    stream = Bitstream.from_bytes(data)
    return list(decode_open_loop(encoder, decoder, stream) if spec.open_loop else decode_video(decoder, stream))


def run_job(spec: ModelSpec, options: TestOptions, job: Job, record: dict | None = None,
            fingerprints: tuple = ()) -> dict:
    """Encode, write (optionally), decode and measure one sequence at one rate point."""
    models = worker_models(spec, record, fingerprints)
    return _run_job(spec, options, job, models)


def _run_job(spec: ModelSpec, options: TestOptions, job: Job, models: BuiltModels) -> dict:
    codec, decoder = models.encoder, models.decoder
    originals = list(read_yuv420(job.path, job.width, job.height, job.frames))
    settings = EncodeSettings(job.qp_i, job.qp_p, job.intra_period, options.reset_interval, codec.preset.force_zero_thres)
    start = time.perf_counter()
    encoded = encode_video(codec, originals, settings)
    data = encoded.bitstream.to_bytes()
    if options.write_stream:
        out = Path(options.stream_path) / job.class_name / f"{Path(job.sequence).stem}_q{job.qp_i}.bin"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    decode_start = time.perf_counter()
    decoded = _decode(spec, codec, decoder, data)
    decode_time = time.perf_counter() - decode_start
    psnrs = [psnr_yuv420(x[:, :, : job.height, : job.width], *planes) for x, planes in zip(decoded, originals)]
    bits = _frame_bits(encoded.bitstream, len(data))
    result = frame_log(encoded.bitstream, bits, psnrs, job.width * job.height, options.verbose)
    result["test_time"] = time.perf_counter() - start
    result["avg_frame_encoding_time"] = sum(s.seconds for s in encoded.stats) / len(decoded)
    result["avg_frame_decoding_time"] = decode_time / len(decoded)
    result["decoder_mismatch_samples"] = differing_samples(encoded.recons, decoded)
    result["ave_all_frame_bpp_est"] = sum(s.est_bits for s in encoded.stats) / (len(decoded) * job.width * job.height)
    result["qp_i"], result["qp_p"] = job.qp_i, job.qp_p
    result["backend"] = BACKENDS[spec.backend]
    result.update(quant_record(spec, models.record))
    return result


def quant_record(spec: ModelSpec, record: dict) -> dict:
    """What a quantized result was calibrated on (kept in the result file beside each point)."""
    if spec.quant is None:
        return {}
    return {"quant": Path(spec.quant).name, "recipe": record.get("settings", {}).get("recipe"),
            "calibration": record.get("calibration", []), "closed_loop": not spec.open_loop}


def _frame_bits(stream: Bitstream, total_bytes: int) -> list[int]:
    """Bits per frame from the real file: payload plus table entry; frame 0 also the header."""
    payloads = [len(f.payload) for f in stream.frames]
    overhead = total_bytes - sum(payloads)
    entry = (overhead - _header_bytes(stream)) // len(payloads)
    bits = [8 * (p + entry) for p in payloads]
    bits[0] += 8 * _header_bytes(stream)
    return bits


def _header_bytes(stream: Bitstream) -> int:
    empty = Bitstream(stream.preset, stream.decoder, stream.height, stream.width, stream.thres, stream.fingerprint)
    return len(empty.to_bytes())


def frame_log(stream: Bitstream, bits: list[int], psnrs: list[list[float]], pixels: int, verbose: bool) -> dict:
    """Averages per frame type in the official key names (PSNR = [YUV, Y, U, V])."""
    kinds = [f.kind for f in stream.frames]
    result: dict = {"frame_pixel_num": pixels}
    for prefix, kind in (("i", "I"), ("p", "P")):
        picked = [i for i, k in enumerate(kinds) if k == kind]
        result[f"{prefix}_frame_num"] = len(picked)
        result.update(_averages(f"ave_{prefix}_frame", picked, bits, psnrs, pixels))
    result.update(_averages("ave_all_frame", list(range(len(kinds))), bits, psnrs, pixels))
    if verbose:
        result["frame_bpp"] = [b / pixels for b in bits]
        result["frame_psnr"] = [p[0] for p in psnrs]
        result["frame_type"] = [0 if k == "I" else 1 for k in kinds]
    return result


def _averages(prefix: str, picked: list[int], bits: list[int], psnrs: list[list[float]], pixels: int) -> dict:
    count = max(len(picked), 1)
    out = {f"{prefix}_bpp": sum(bits[i] for i in picked) / (count * pixels)}
    for index, suffix in enumerate(("", "_y", "_u", "_v")):
        out[f"{prefix}_psnr{suffix}"] = sum(psnrs[i][index] for i in picked) / count if picked else 0
    return out


def job_label(job: Job) -> str:
    """How a job is named in error lines and in the journal."""
    return f"{job.class_name}/{job.sequence} rate {job.rate_index}"


def sweep_journal(path: Path, spec: ModelSpec, options: TestOptions, jobs: list[Job], resume: bool = True) -> Journal:
    """The journal of a ``codec test`` sweep: its arguments (model, options, every job) and the
    fingerprints of the weight and student files; a rerun with other ones is refused."""
    arguments = {"spec": asdict(spec), "options": asdict(options), "jobs": [asdict(job) for job in jobs]}
    return Journal(path, arguments, dict(weight_fingerprints(spec)), resume)


def run_test(spec: ModelSpec, config: DatasetConfig, options: TestOptions, worker: int = 1,
             progress: bool = True, allow_overlap: bool = False) -> tuple[dict, list[str]]:
    """All jobs of the config -> (results in the official schema, error lines of failed jobs)."""
    jobs = jobs_from_config(config, options)
    sweep = run_test_sweep(spec, jobs, options, worker, progress=progress, allow_overlap=allow_overlap)
    return sweep_results(jobs, sweep), sweep.error_lines()


def run_test_sweep(spec: ModelSpec, jobs: list[Job], options: TestOptions, worker: int | None = 1,
                   cluster: str | None = None, journal: Journal | None = None, progress: bool = True,
                   allow_overlap: bool = False) -> SweepResult:
    """Run ``jobs`` here (``worker`` processes) or on a Ray ``cluster`` (``worker``: the CPUs of a
    local one, None: all), taking finished ones from ``journal`` and appending the others to it."""
    record = calibration_record(spec.quant) if spec.quant is not None else None  # the student's header, read once
    if record is not None and not allow_overlap:
        check_disjoint(record.get("calibration", []), sorted({job.sequence for job in jobs}))
    fingerprints = tuple(weight_fingerprints(spec)) if cluster is not None else ()
    try:
        if cluster is None and (worker or 1) == 1:
            worker_models(spec, record)  # models that cannot be built are one error, not one per job
        function = functools.partial(run_job, spec, options, record=record, fingerprints=fingerprints)
        workers = worker if cluster is not None else worker or 1
        return run_jobs(function, jobs, [job_label(job) for job in jobs], workers=workers, cluster=cluster,
                        journal=journal, progress=progress, desc="codec test", log=LOG)
    finally:
        _BUILT.clear()  # the models of this run (a later run may name a rewritten student file)


def sweep_results(jobs: list[Job], sweep: SweepResult) -> dict:
    """The official schema, {class: {sequence: {"000": result}}}, in job order whatever the order
    the jobs finished in (so that every way of running writes the same file)."""
    results: dict = {}
    for index, result in sweep.ordered():
        job = jobs[index]
        results.setdefault(job.class_name, {}).setdefault(job.sequence, {})[f"{job.rate_index:03d}"] = result
    return results


def write_results(results: dict, path: Path) -> None:
    """The result JSON, written atomically (a temporary file renamed over ``path``)."""
    write_atomic(path, json.dumps(results, indent=2))
