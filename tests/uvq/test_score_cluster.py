"""``uvq score --cluster local`` on 4 videos prints and writes what the sequential run does
(real Ray, a private 2-CPU cluster; skipped without Ray)."""

from __future__ import annotations

import pytest

from tests.sweep.ray_cluster import local_cluster
from tests.uvq.test_score import _write_clip
from vidquant.cli.main import main


@pytest.fixture(scope="module")
def cluster():
    yield from local_cluster(workers=2)


def test_cluster_scores_equal_the_sequential_scores_in_input_order(cluster, tmp_path, capsys):
    videos = [str(_write_clip(tmp_path / f"clip{i}.mp4", 1.0, width=48 + 16 * i, fps=8 + i)) for i in range(4)]
    outputs = {}
    for way, extra in (("sequential", []), ("cluster", ["--cluster", "local"])):
        json_file = tmp_path / f"{way}.json"
        assert main(["uvq", "score", *videos, "--allow-placeholder-weights", "--json", str(json_file), *extra]) == 0
        outputs[way] = (capsys.readouterr().out, json_file.read_text())
    assert outputs["cluster"] == outputs["sequential"]
    lines = outputs["sequential"][0].splitlines()
    assert [line.split(",")[0] for line in lines] == [f"clip{i}.mp4" for i in range(4)]
    assert len({line.split(",")[1] for line in lines}) == 4  # four different videos, four scores
