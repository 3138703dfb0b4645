"""Joining or starting the Ray cluster a sweep runs on (Ray is the optional extra ``vidquant[cluster]``).

``--cluster local`` starts a private cluster on this machine (``cpus`` worker CPUs, default all;
no dashboard, a small object store) and shuts it down after the sweep; ``auto`` joins the cluster
named by ``RAY_ADDRESS`` (or the one ``ray start`` runs on this machine); anything else is a
cluster address (``HOST:PORT``). A process that has already called ``ray.init`` (a notebook, a
test) keeps its cluster: the sweep runs there and leaves it running.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

from vidquant.errors import VidquantError

INSTALL = "pip install vidquant[cluster]"
OBJECT_STORE_BYTES = 256 * 2**20  # a local cluster's object store: results are small dicts


def import_ray() -> Any:
    """The ``ray`` module, or a one-line error naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise VidquantError(f"--cluster needs Ray, which is not installed: {INSTALL}") from None
    return ray


def check_cluster(cluster: str | None) -> None:
    """Fail before any work when ``--cluster`` is given but Ray is missing."""
    if cluster is not None:
        import_ray()


@contextmanager
def connect(cluster: str, cpus: int | None = None) -> Iterator[Any]:
    """The ``ray`` module connected to ``cluster`` for the duration of the block."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    options: dict[str, Any] = {"logging_level": "WARNING", "log_to_driver": True}
    if cluster == "local":
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a private cluster reports nothing anywhere
        options.update(address="local", num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
                       object_store_memory=OBJECT_STORE_BYTES)  # "local": a new cluster, never one found running
    else:
        options["address"] = cluster  # "auto": RAY_ADDRESS, or the cluster `ray start` runs here
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise VidquantError(f"cannot join the Ray cluster {cluster!r}: {str(error).splitlines()[0]}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def worker_died_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """Ray's exceptions for a task whose worker process or node died (not the job's own error)."""
    names = ("WorkerCrashedError", "NodeDiedError", "LocalRayletDiedError", "ObjectLostError")
    return tuple(getattr(ray.exceptions, name) for name in names if hasattr(ray.exceptions, name))
