"""Run a list of independent jobs: in this process, in local processes, or as Ray tasks.

``run_jobs(function, jobs, labels, ...)`` calls ``function(job)`` for every job and returns the
results by job index. The three ways give the same results:

- ``workers=1`` (no cluster): one after another in this process;
- ``workers=N``: a pool of N local processes;
- ``cluster="local" | "auto" | ADDRESS``: one Ray task per job (``vidquant.sweep.cluster``).

A job that raises is recorded with its error and the others still run. A Ray task whose worker
process or node died is submitted again (``retries`` times) and counted. With a ``Journal``,
finished jobs are appended to it as they come and the jobs it already holds are not run again.
One progress bar covers the whole sweep: jobs done / total, failures, retries, time left.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from vidquant.errors import first_line

from .journal import Journal

RETRIES = 3  # submissions of a task after the first whose worker died (Ray's own default for tasks)


@dataclass
class SweepResult:
    labels: Sequence[str] = ()
    results: dict[int, Any] = field(default_factory=dict)  # job index -> result
    errors: dict[int, str] = field(default_factory=dict)  # job index -> error message
    resumed: int = 0  # jobs whose results came from the journal
    retries: int = 0  # tasks run again because their worker process or node died

    def ordered(self) -> list[tuple[int, Any]]:
        """(index, result) of the jobs that finished, in job order."""
        return sorted(self.results.items())

    def error_lines(self) -> list[str]:
        """``label: message`` of every failed job, in job order."""
        return [self.error_line(index) for index in sorted(self.errors)]

    def error_line(self, index: int) -> str:
        return f"{self.labels[index]}: {self.errors[index]}"

    def summary(self) -> str:
        """``; 2 failed; 3 from the journal; 1 retried`` (only the counts that are not zero)."""
        parts = [(len(self.errors), "failed"), (self.resumed, "from the journal"),
                 (self.retries, "retried after a worker died")]
        return "".join(f"; {count} {what}" for count, what in parts if count)


def attempt(function: Callable[[Any], Any], job: Any) -> tuple[bool, Any]:
    """(True, result) or (False, error message): what one job gives, on any worker."""
    try:
        return True, function(job)
    except Exception as error:  # one failing job must not stop the others
        return False, str(error) or type(error).__name__


def _ray_attempt(function: Callable[[Any], Any], job: Any) -> tuple[bool, Any]:
    """``attempt`` on a Ray worker: an error names the node it happened on (paths must be
    reachable from every node)."""
    ok, value = attempt(function, job)
    return (ok, value) if ok else (False, f"{value} (on node {socket.gethostname()})")


def run_jobs(
    function: Callable[[Any], Any],
    jobs: Sequence[Any],
    labels: Sequence[str],
    *,
    workers: int = 1,
    cluster: str | None = None,
    journal: Journal | None = None,
    progress: bool = True,
    desc: str = "jobs",
    unit: str = "job",
    log: logging.Logger | None = None,
    retries: int = RETRIES,
) -> SweepResult:
    """Run ``function(job)`` for each job (see the module's docstring); ``labels`` name the jobs
    (unique; error messages and the journal use them). ``function`` and the jobs must pickle."""
    from tqdm import tqdm

    if len(set(labels)) != len(labels):
        raise ValueError("job labels must be unique")
    sweep = SweepResult(labels)
    todo = []
    for index, label in enumerate(labels):
        if journal is not None and label in journal.done:
            sweep.results[index] = journal.done[label]
            sweep.resumed += 1
        else:
            todo.append(index)
    bar = tqdm(total=len(jobs), initial=sweep.resumed, desc=desc, unit=unit, disable=not progress)

    def finish(index: int, ok: bool, value: Any) -> None:
        if ok:
            sweep.results[index] = value
        else:
            sweep.errors[index] = value
            if log is not None:
                log.error(sweep.error_line(index))
        if journal is not None:
            journal.record(labels[index], value if ok else None, None if ok else str(value))
        bar.update(1)
        counts = {"failed": len(sweep.errors), "retried": sweep.retries}
        bar.set_postfix({key: count for key, count in counts.items() if count}, refresh=False)

    try:
        if cluster is not None:
            _run_on_ray(function, jobs, todo, finish, sweep, cluster, workers, retries)
        elif workers > 1:
            with _sigterm_interrupts():
                _run_in_pool(function, jobs, todo, finish, workers)
        else:
            with _sigterm_interrupts():
                for index in todo:
                    finish(index, *attempt(function, jobs[index]))
    finally:
        bar.close()
    return sweep


def _run_in_pool(function, jobs, todo, finish, workers: int) -> None:
    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        futures = {pool.submit(attempt, function, jobs[index]): index for index in todo}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as error:  # the process died (BrokenProcessPool): as a failed job
                outcome = (False, str(error) or type(error).__name__)
            finish(futures[future], *outcome)
    finally:
        pool.shutdown(cancel_futures=True)  # interrupted: the jobs not started yet are dropped


def _run_on_ray(function, jobs, todo, finish, sweep: SweepResult, cluster: str, workers: int, retries: int) -> None:
    from .cluster import connect, worker_died_errors

    with connect(cluster, cpus=workers) as ray, _sigterm_interrupts():  # after ray.init, which sets its own
        died = worker_died_errors(ray)
        task = ray.remote(num_cpus=1, max_retries=0)(_ray_attempt)
        shared = ray.put(function)  # sent to the object store once, not with every task
        pending = {task.remote(shared, jobs[index]): index for index in todo}
        tries = dict.fromkeys(todo, 0)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(ready[0])
            try:
                outcome = ray.get(ready[0])
            except died as error:
                if tries[index] < retries:
                    tries[index] += 1
                    sweep.retries += 1
                    pending[task.remote(shared, jobs[index])] = index
                    continue
                outcome = (False, f"its worker died {retries + 1} times ({type(error).__name__})")
            except ray.exceptions.RayError as error:  # e.g. a node that cannot unpickle the job
                outcome = (False, first_line(error))
            finish(index, *outcome)


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops the sweep as Ctrl-C does (KeyboardInterrupt), so that the cleanup runs: the
    journal keeps every finished job, a local Ray cluster is shut down."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
