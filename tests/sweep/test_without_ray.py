"""Without the ``cluster`` extra, ``--cluster`` is a one-line error naming it (Ray made unimportable
in a fresh interpreter: ``sys.modules["ray"] = None`` makes ``import ray`` fail as if absent)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

WITHOUT_RAY = "import sys; sys.modules['ray'] = None; from vidquant.cli.main import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.parametrize("command", [
    ["codec", "test", "--test_config", "missing.json", "--output_path", "out.json", "--cluster", "local"],
    ["uvq", "score", "a.mp4", "b.mp4", "--cluster", "auto"],
])
def test_cluster_without_ray_names_the_extra_in_one_line(command, tmp_path):
    env = dict(os.environ, PYTHONPATH=f"{REPO_ROOT / 'src'}{os.pathsep}{REPO_ROOT}")
    run = subprocess.run([sys.executable, "-c", WITHOUT_RAY, *command], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr == (f"vidquant {command[0]}: error: --cluster needs Ray, which is not installed: "
                          "pip install vidquant[cluster]\n")
    assert not list(tmp_path.iterdir())  # failed before any work
