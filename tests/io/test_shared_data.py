"""Defaults into the shared data folder work from any directory; a missing pack says "not found"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vidquant.errors import VidquantError
from vidquant.io.shared_data import ENV_VAR, require_folder, shared_path, shared_root

CHECKOUT_SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def test_the_environment_variable_wins(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert shared_root() == tmp_path and shared_path("conformance", "x") == tmp_path / "conformance" / "x"


def test_without_it_the_folder_beside_the_checkout(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    expected = CHECKOUT_SHARED if CHECKOUT_SHARED.is_dir() else Path("..") / "shared"
    assert shared_root() == expected


def test_a_missing_folder_is_not_found_in_one_line(tmp_path):
    with pytest.raises(VidquantError, match=f"conformance pack {tmp_path / 'none'} not found .*{ENV_VAR}"):
        require_folder(tmp_path / "none", "conformance pack")


def test_the_codec_pack_default_does_not_depend_on_the_current_directory(tmp_path):
    """It was ../shared/... from wherever the command ran."""
    env = {**__import__("os").environ, ENV_VAR: str(tmp_path / "elsewhere")}
    done = subprocess.run([sys.executable, "-m", "vidquant", "codec", "conformance"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"vidquant codec: error: conformance pack {tmp_path / 'elsewhere' / 'conformance' / 'dcvc_rt'} "
                                   f"not found (give its folder, or set {ENV_VAR} to the shared data folder)")
