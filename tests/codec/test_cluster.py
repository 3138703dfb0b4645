"""``codec test`` on Ray: the local run's JSON, a killed worker retried, an interrupted sweep resumed.

Real Ray (a private 2-CPU cluster on this machine), the shipped dcvc-rt-small and small real
sequences from ../shared; skipped, with the reason, without Ray or ../shared.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, shared_file
from tests.sweep.ray_cluster import local_cluster
from vidquant.io.dataset import load_dataset_config
from vidquant.models.codec.workflow import codec_test
from vidquant.models.codec.workflow.codec_test import jobs_from_config, run_test, run_test_sweep, sweep_results
from vidquant.models.codec.workflow.coding_models import ModelSpec

TIMES = ("test_time", "avg_frame_encoding_time", "avg_frame_decoding_time")
SEQUENCES = {"ciscovt2people_160x96_5f.yuv": (160, 96), "cars_128x96_60f.yuv": (128, 96)}
SPEC = ModelSpec("dcvc-rt-small")


@pytest.fixture(scope="module")
def cluster():
    yield from local_cluster(workers=2)


def _config(folder: Path, frames: int) -> Path:
    root = shared_file("data/video/yuv/cars_128x96_60f.yuv").parent
    sequences = {name: {"width": w, "height": h, "frames": frames, "intra_period": -1} for name, (w, h) in SEQUENCES.items()}
    path = folder / f"config_{frames}.json"
    path.write_text(json.dumps({"root_path": str(root), "test_classes": {"c": {"base_path": "", "sequences": sequences}}}))
    return path


def without_times(results: dict) -> str:
    return json.dumps({cls: {seq: {rate: {k: v for k, v in point.items() if k not in TIMES}
                                   for rate, point in points.items()} for seq, points in seqs.items()}
                       for cls, seqs in results.items()})


def _local(config: Path, options: codec_test.TestOptions) -> dict:
    results, errors = run_test(SPEC, load_dataset_config(config), options, worker=1, progress=False)
    assert not errors
    return results


def test_two_ray_workers_write_the_json_of_one_local_process(cluster, tmp_path):
    options = codec_test.TestOptions(qp_i=(0, 40), reset_interval=32)  # 2 sequences x 2 rates
    config = _config(tmp_path, frames=2)
    jobs = jobs_from_config(load_dataset_config(config), options)
    sweep = run_test_sweep(SPEC, jobs, options, cluster="local", progress=False)
    assert not sweep.errors and sweep.retries == 0 and len(sweep.results) == 4
    assert without_times(sweep_results(jobs, sweep)) == without_times(_local(config, options))


def _busy_ray_workers() -> list[int]:
    """Ray worker processes running one of our tasks now (their title is ray::<function>)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::_ray_attempt"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def test_a_killed_worker_is_retried_and_the_numbers_stay_the_same(cluster, tmp_path):
    options = codec_test.TestOptions(qp_i=(0, 21, 42, 63), reset_interval=32)
    config = _config(tmp_path, frames=4)
    jobs = jobs_from_config(load_dataset_config(config), options)
    outcome: dict = {}
    sweep = threading.Thread(target=lambda: outcome.update(
        sweep=run_test_sweep(SPEC, jobs, options, cluster="local", progress=False)))
    sweep.start()
    killed = None
    while sweep.is_alive() and killed is None:
        busy = _busy_ray_workers()
        if busy:
            os.kill(busy[0], signal.SIGKILL)  # a worker process dies in the middle of a job
            killed = busy[0]
        time.sleep(0.01)
    sweep.join(timeout=300)
    assert killed is not None, "no worker was seen running a job"
    result = outcome["sweep"]
    assert not result.errors and len(result.results) == len(jobs) == 8
    assert result.retries >= 1 and "retried after a worker died" in result.summary()
    assert without_times(sweep_results(jobs, result)) == without_times(_local(config, options))


def _codec_test(config: Path, output: Path, cluster: str | None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=f"{REPO_ROOT / 'src'}{os.pathsep}{REPO_ROOT}", OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "vidquant", "codec", "test", "--test_config", str(config), "--output_path",
               str(output), "--qp_i", "0", "21", "42", "63"] + (["--cluster", cluster] if cluster else [])
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _journal_jobs(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()[1:] if line.endswith("}")]


@pytest.mark.parametrize("where, signum", [("local", signal.SIGINT), ("ray", signal.SIGINT), ("ray", signal.SIGTERM)])
def test_an_interrupted_sweep_resumes_without_recomputing_finished_jobs(cluster, tmp_path, where, signum):
    config, output = _config(tmp_path, frames=4), tmp_path / "out" / "result.json"
    journal = output.with_name("result.partial.jsonl")
    address = cluster if where == "ray" else None
    driver = _codec_test(config, output, address)
    while not _journal_jobs(journal) and driver.poll() is None:
        time.sleep(0.05)
    driver.send_signal(signum)  # the driver stops after its first finished job
    _, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 130 and "interrupted" in stderr, stderr[-2000:]
    assert not output.exists()
    finished = _journal_jobs(journal)
    assert 1 <= len(finished) < 8 and all("result" in job for job in finished)

    rerun = _codec_test(config, output, address)
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr[-2000:]
    assert f"8 sequence x rate results -> {output}; {len(finished)} from the journal" in stdout
    results = json.loads(output.read_text())
    # The finished jobs were taken, not recomputed: their measured times are the journal's, to the bit.
    by_label = {job["job"]: job["result"] for job in finished}
    for label, result in by_label.items():
        sequence, rate = label.removeprefix("c/").split(" rate ")
        assert results["c"][sequence][f"{int(rate):03d}"] == result
    assert without_times(results) == without_times(_local(config, codec_test.TestOptions(qp_i=(0, 21, 42, 63), reset_interval=32)))
    assert not journal.exists()  # every job is in the result file: the journal is dropped
