"""Sweeps of independent jobs (codec test points, videos to score): local processes or Ray tasks,
a journal that keeps every finished job, one progress bar. Knows nothing about models."""

from .journal import Journal, journal_path, write_atomic
from .runner import SweepResult, run_jobs

__all__ = ["Journal", "SweepResult", "journal_path", "run_jobs", "write_atomic"]
