#!/usr/bin/env bash
# Short held-out runs for the integer numerics (issue 20, Acceptance 5): the deployed W8A8 decoders
# as exported, decoded by ONNX Runtime (--backend onnx), against FP32, on the evaluation clips of
# results/codec/test_config.json (3 clips, FRAMES frames: default 8, as results/codec/run.sh), qp 0/12/24/36.
# Run from the repository root: PYTHON=/work/venv/bin/python results/codec/numerics/run.sh
set -euo pipefail
. "$(dirname "$0")/../common.sh"
N=$R/numerics
FRAMES=${FRAMES:-8}
TEST="--test_config $R/test_config.json $RATES --force_frame_num $FRAMES"
CAL="--calib_config $R/calib_config.json --test_config $R/test_config.json"
mkdir -p $R/students
[ -f $N/fp32.json ] || $VQ codec test $TEST --output_path $N/fp32.json
# name recipe scope epochs lr rate_weight gop_unroll features (round to nearest: epochs 0)
RUNS="w8a8-static w8a8-static recipe 0 1e-4 0 3 -
w8a8-static-8bit $N/w8a8-static-8bit.recipe.json recipe 0 1e-4 0 3 -
w8a8-lsq-graph w8a8-lsq graph ${EPOCHS:-20} 1e-2 1e-3 7 match"
while read -r name recipe scope epochs lr rate_weight gop_unroll features; do
  match=""; [ "$features" = match ] && match="--match_features"
  [ -f $R/students/numerics-$name.safetensors ] || $VQ codec calibrate --recipe $recipe --scope $scope $CAL --epochs $epochs \
      --lr $lr --rate_weight $rate_weight --gop_unroll $gop_unroll $match -o $R/students/numerics-$name.safetensors \
      > $N/$name.calibrate.txt
  $VQ codec test $TEST --quant $R/students/numerics-$name.safetensors --backend onnx --output_path $N/$name.json
  $VQ bd $N/fp32.json $N/$name.json --json $N/$name.bd.json > $N/$name.bd.txt
done <<< "$RUNS"
