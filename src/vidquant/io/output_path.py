"""Checks on a file a command is about to write, made before the work starts: its folder
exists and its name ends in a format the writer really writes (``x.mp4`` must not receive raw
I420 bytes)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from vidquant.errors import VidquantError

# What ``vidquant.io.open_writer`` writes: raw planar samples, Y4M, or lossless FFV1 in Matroska.
VIDEO_OUTPUT_SUFFIXES: tuple[str, ...] = (".yuv", ".y4m", ".mkv")


def check_output_path(path: str | Path, suffixes: Sequence[str] | None = None, what: str = "output") -> Path:
    """``path`` if it can be written: not a folder, its folder exists, and (``suffixes``) its
    name ends in one of them; else a one-line error."""
    path = Path(path)
    if path.is_dir():
        raise VidquantError(f"{what} {path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise VidquantError(f"{what} {path}: folder {path.parent} does not exist")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise VidquantError(f"{what} {path}: write {' or '.join(suffixes)} (this writer makes no {path.suffix or 'extension-less'} files)")
    return path
