"""The official ``uvq_inference.py`` output formats, byte for byte (SPEC.md 8, cli_examples/)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from vidquant.errors import VidquantError

LIST_SUFFIX = ".txt"


PLACEHOLDER_MARK = "placeholder"  # after a score computed with FILL-v1 placeholder weights


def single_stdout(result: Mapping[str, Any], all_stats: bool) -> str:
    """One line: the whole result as ``json.dumps``, or the bare ``repr`` of the video score
    (followed by `` placeholder`` when placeholder weights computed it)."""
    line = json.dumps(result) if all_stats else repr(result["uvq1p5_score"])
    if result.get("placeholder_weights") and not all_stats:
        line += f" {PLACEHOLDER_MARK}"
    return line + "\n"


def result_json(result: Mapping[str, Any] | list[Mapping[str, Any]]) -> str:
    """The ``--output`` file: 2-space indented JSON without a trailing newline."""
    return json.dumps(result, indent=2)


def batch_line(video: str, score: float, placeholder: bool = False) -> str:
    """One line of the batch results file: ``<basename>,<repr(score)>`` (``,placeholder`` appended
    when placeholder weights computed it)."""
    return f"{os.path.basename(video)},{score!r}" + (f",{PLACEHOLDER_MARK}" if placeholder else "") + "\n"


def batch_done(output: str) -> str:
    return f"Batch inference complete. Results saved to {output}\n"


def is_list_file(name: str) -> bool:
    return name.endswith(LIST_SUFFIX)


def read_list_file(path: Path) -> list[str]:
    """Video paths of a list file: one per line, surrounding spaces stripped, blank lines skipped."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as error:
        raise VidquantError(f"cannot read list file {path}: {error.strerror}") from None
    return [line.strip() for line in lines if line.strip()]
