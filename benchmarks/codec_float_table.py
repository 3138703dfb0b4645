"""Markdown table of a float `vidquant codec test` result (docs/codec.md, "The shipped weights").

usage: python benchmarks/codec_float_table.py RESULT.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

NAMES = {"foreman": "foreman 352x288", "cars": "cars 320x240", "ciscovt2people": "CiscoVT2people 320x192"}


def rows(result: dict) -> list[str]:
    lines = ["| sequence | qp | bpp (file) | bpp (estimate) | YUV-PSNR | I-frame PSNR / bpp | P-frame PSNR / bpp |",
             "|---|---|---|---|---|---|---|"]
    for sequences in result.values():
        for name, points in sequences.items():
            label = NAMES.get(name.split("_")[0], name)
            for key in sorted(points):
                p = points[key]
                lines.append(f"| {label} | {p['qp_i']} | {p['ave_all_frame_bpp']:.3f} | {p['ave_all_frame_bpp_est']:.3f} "
                             f"| {p['ave_all_frame_psnr']:.2f} | {p['ave_i_frame_psnr']:.2f} / {p['ave_i_frame_bpp']:.3f} "
                             f"| {p['ave_p_frame_psnr']:.2f} / {p['ave_p_frame_bpp']:.3f} |")
                label = ""
    return lines


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print("\n".join(rows(json.loads(Path(sys.argv[1]).read_text()))))
