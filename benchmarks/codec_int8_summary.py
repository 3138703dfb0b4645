"""Collect results/codec_int8/*.bd.json and the students' calibration records into bd.json:
{recipe: {bd_rate, bd_psnr, calibration, evaluation, wall_s, steps}} (run by results/codec_int8/run.sh)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vidquant.models.codec.quantize_decoder import calibration_record


def summarize(folder: Path) -> dict:
    summary = {}
    for bd_file in sorted(folder.glob("*.bd.json")):
        name = bd_file.name[: -len(".bd.json")]
        table = json.loads(bd_file.read_text())
        record = calibration_record(folder / "students" / f"{name}.safetensors")
        summary[name] = {
            "bd_rate": table["overall"]["bd_rate"],
            "bd_psnr": table["overall"]["bd_psnr"],
            "per_sequence": {row["sequence"]: row["result"] and {k: row["result"][k] for k in ("bd_rate", "bd_psnr")}
                             for row in table["sequences"]},
            "calibration": record["calibration"],
            "evaluation": [row["sequence"] for row in table["sequences"]],
            "epochs": record["settings"]["epochs"],
            "steps": record["steps"],
            "wall_s": record["wall_s"],
        }
    return summary


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "results/codec_int8")
    (folder / "bd.json").write_text(json.dumps(summarize(folder), indent=1) + "\n")
    print(f"-> {folder / 'bd.json'}")
