"""A local Ray cluster for the tests that run sweeps on Ray (skipped, with the reason, without Ray)."""

from __future__ import annotations

import os

import pytest

OBJECT_STORE_BYTES = 100 * 2**20


def local_cluster(workers: int = 2):
    """Start a private 2-CPU cluster on this machine (no dashboard, a small object store) in this
    process; yields its address for drivers in other processes; shuts it down afterwards."""
    ray = pytest.importorskip("ray", reason="needs Ray: pip install vidquant[cluster]")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=workers, include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES, _node_ip_address="127.0.0.1",
             logging_level="WARNING", configure_logging=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
