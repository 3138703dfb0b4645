"""The journal keeps every finished job, resumes only the same sweep, and survives a torn last line."""

from __future__ import annotations

import json

import pytest

from vidquant.errors import VidquantError
from vidquant.sweep import Journal, journal_path, run_jobs, write_atomic

ARGS = {"model": "a", "jobs": [1, 2, 3]}


def square(value: int) -> dict:
    if value < 0:
        raise ValueError(f"negative {value}")
    return {"square": value * value, "pair": (value, value)}


def test_journal_path_sits_next_to_the_output(tmp_path):
    assert journal_path(tmp_path / "r.json") == tmp_path / "r.partial.jsonl"


def test_a_rerun_takes_finished_jobs_and_runs_failed_ones_again(tmp_path):
    path = tmp_path / "r.partial.jsonl"
    jobs, labels = [1, -2, 3], ["one", "two", "three"]
    first = run_jobs(square, jobs, labels, journal=Journal(path, ARGS, {"w": "x"}), progress=False)
    assert first.errors == {1: "negative -2"} and first.resumed == 0
    assert first.error_lines() == ["two: negative -2"]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["arguments"] == ARGS and [line["job"] for line in lines[1:]] == labels
    # A rerun: the finished jobs come from the journal (a job that would now fail proves it).
    again = run_jobs(square, [-1, 2, -3], labels, journal=Journal(path, ARGS, {"w": "x"}), progress=False)
    assert again.resumed == 2 and again.errors == {}
    assert again.results == {0: {"square": 1, "pair": [1, 1]}, 1: {"square": 4, "pair": (2, 2)},
                             2: {"square": 9, "pair": [3, 3]}}  # as JSON gives them back: the same file


def test_other_arguments_or_weights_are_refused_in_one_line(tmp_path):
    path = tmp_path / "r.partial.jsonl"
    run_jobs(square, [1], ["one"], journal=Journal(path, ARGS, {"w": "x"}), progress=False)
    with pytest.raises(VidquantError, match=r"other arguments.model, fingerprints.w; rerun with the same"):
        Journal(path, {**ARGS, "model": "b"}, {"w": "y"})
    fresh = Journal(path, {**ARGS, "model": "b"}, {"w": "y"}, resume=False)  # --no-resume starts afresh
    assert fresh.done == {}
    fresh.record("one", {"square": 9})
    assert Journal(path, {**ARGS, "model": "b"}, {"w": "y"}).done == {"one": {"square": 9}}


def test_a_torn_last_line_is_ignored_and_a_non_journal_refused(tmp_path):
    path = tmp_path / "r.partial.jsonl"
    journal = Journal(path, ARGS, {})
    journal.record("one", {"square": 1})
    with path.open("a") as file:
        file.write('{"job": "two", "resu')  # the process died while writing
    assert Journal(path, ARGS, {}).done == {"one": {"square": 1}}
    path.write_text("not json\n")
    with pytest.raises(VidquantError, match="is not a vidquant journal"):
        Journal(path, ARGS, {})


def test_nothing_is_written_before_the_first_job_finishes(tmp_path):
    Journal(tmp_path / "r.partial.jsonl", ARGS, {})
    assert not (tmp_path / "r.partial.jsonl").exists()


def test_write_atomic_replaces_the_whole_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out" / "r.json"
    write_atomic(target, "old")
    write_atomic(target, "new")
    assert target.read_text() == "new" and sorted(p.name for p in target.parent.iterdir()) == ["r.json"]


def test_local_processes_give_the_results_of_one_process():
    jobs, labels = [3, -1, 5, 7], ["a", "b", "c", "d"]
    one = run_jobs(square, jobs, labels, progress=False)
    two = run_jobs(square, jobs, labels, workers=2, progress=False)
    assert one.ordered() == two.ordered() and one.errors == two.errors == {1: "negative -1"}
