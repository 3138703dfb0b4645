"""The long fuzzing campaign of issue #22: ``--cases`` seeded cases of the kinds in
tests/fuzz_cases.py (the CI test tests/test_fuzz.py runs a few hundred of the same kinds with
Hypothesis draws), counted per kind and outcome.

Cases run in a worker process that builds the codec and the genuine streams once and then runs
case after case in-process; the parent gives each case ``--timeout`` seconds. A case that runs
longer is a hang (the worker is killed and a fresh one started), a worker that dies is a crash
(likewise). The peak RSS of every worker (``ru_maxrss``, model and streams included) bounds the
peak of every case it ran; the largest is reported. Case ``i`` is kind ``KINDS[i % len(KINDS)]``
with draws from ``random.Random(seed + i)``, so any case can be rerun alone
(``--only-case i``).

    PYTHONPATH=src python benchmarks/fuzz.py --cases 10000 --json results/robust/fuzz.json
    PYTHONPATH=src python benchmarks/fuzz.py --cases 200            # a quick look
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import random
import resource
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fuzz_cases

from tests.fuzz_cases import CORRUPT_KINDS, FAILURES, KINDS  # noqa: E402


def _worker(connection, seed: int) -> None:
    import torch

    from tests.fuzz_cases import Fixture, run_case

    torch.set_num_threads(1)
    fixture = Fixture()
    fixture.streams  # build the codec and the genuine streams before the first case
    connection.send(("ready", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
    while True:
        index = connection.recv()
        if index is None:
            return
        outcome = run_case(KINDS[index % len(KINDS)], random.Random(seed + index).randint, fixture)
        connection.send((outcome.status, outcome.detail, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


class Worker:
    def __init__(self, seed: int, start_timeout: float) -> None:
        context = mp.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child, seed), daemon=True)
        self.process.start()
        if not self.connection.poll(start_timeout):
            self.stop()
            raise RuntimeError("the fuzz worker did not start")
        _, self.peak_kb = self.connection.recv()

    def run(self, index: int, timeout: float) -> tuple[str, str]:
        self.connection.send(index)
        if not self.connection.poll(timeout):
            return "hang", f"no answer in {timeout:.0f} s"
        try:
            status, detail, self.peak_kb = self.connection.recv()
        except EOFError:
            return "crash", f"worker exited with code {self.process.exitcode}"
        return status, detail

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


def campaign(cases: int, seed: int, timeout: float, only: int | None = None) -> dict:
    counts: dict[str, Counter] = defaultdict(Counter)
    examples: dict[str, list] = defaultdict(list)
    peak_kb, workers = 0, 0
    worker = Worker(seed, 600)
    workers += 1
    start = time.perf_counter()
    indexes = [only] if only is not None else range(cases)
    for index in indexes:
        kind = KINDS[index % len(KINDS)]
        status, detail = worker.run(index, timeout)
        if status in ("hang", "crash"):
            peak_kb = max(peak_kb, worker.peak_kb)
            worker.stop()
            worker = Worker(seed, 600)
            workers += 1
        counts[kind][status] += 1
        if status in FAILURES + ("hang", "crash", "forged_decoded") and len(examples[kind]) < 5:
            examples[kind].append({"case": index, "status": status, "detail": detail})
        if index % 500 == 0:
            print(f"case {index}: {dict(sum(counts.values(), Counter()))}", flush=True)
    peak_kb = max(peak_kb, worker.peak_kb)
    worker.connection.send(None)
    worker.stop()
    total = sum(counts.values(), Counter())
    corrupted_successes = sum(counts[k]["silent_success"] + counts[k]["accepted"] for k in CORRUPT_KINDS)
    return {
        "command": "PYTHONPATH=src python benchmarks/fuzz.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, {mp.cpu_count()} cores (shared with other jobs)",
        "seed": seed,
        "timeout_s": timeout,
        "cases": sum(total.values()),
        "wall_s": round(time.perf_counter() - start, 1),
        "totals": dict(total),
        "tracebacks": total["traceback"],
        "crashes": total["crash"],
        "hangs": total["hang"],
        "silent_successes_on_corrupted_input": corrupted_successes,
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "workers_started": workers,
        "per_kind": {kind: dict(counts[kind]) for kind in KINDS if counts[kind]},
        "corrupt_kinds": list(CORRUPT_KINDS),
        "examples": dict(examples),
        "outcomes": {
            "clean_error": "a VidquantError: one line from the CLI, exit 2",
            "accepted": "read without error, correct for that kind (not counted for corrupt kinds)",
            "forged_identical": "a stream edited with its checksums recomputed decoded to the genuine pictures",
            "forged_decoded": "a stream edited with its checksums recomputed decoded to other pictures of the size it states",
            "silent_success": "a corrupted stream decoded, or NaN/Inf samples gave a number",
            "traceback": "any other exception",
            "hang": "no answer within timeout_s",
            "crash": "the worker process died",
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per case before it counts as a hang")
    parser.add_argument("--only-case", type=int, default=None, help="rerun one case by its index")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    report = campaign(args.cases, args.seed, args.timeout, args.only_case)
    print(json.dumps({k: report[k] for k in ("cases", "totals", "tracebacks", "crashes", "hangs",
                                              "silent_successes_on_corrupted_input", "peak_rss_mb", "wall_s")}))
    for kind, rows in report["examples"].items():
        for row in rows:
            print(f"{kind} case {row['case']}: {row['status']}: {row['detail'][-400:]}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    failed = report["tracebacks"] + report["crashes"] + report["hangs"] + report["silent_successes_on_corrupted_input"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
