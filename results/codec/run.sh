#!/usr/bin/env bash
# Regenerates results/codec/: FP32 and per-recipe `codec test` JSON, BD tables, the round-to-nearest
# baselines, the open-loop measurement, drift over 32 P-frames, the RD plot, bd.json and the
# INT8-codec tables of README.md and docs/codec-int8.md.
# Run from the repository root (../shared/data must exist): PYTHON=/work/venv/bin/python results/codec/run.sh
set -euo pipefail
. "$(dirname "$0")/common.sh"
TEST="--test_config $R/test_config.json $RATES"
mkdir -p $R/students
$VQ codec test $TEST --output_path $R/fp32.json

# name recipe epochs lr trainable weight_lr rate_weight gop_unroll features
# (epochs 0 = round-to-nearest baseline: observers only, the other settings unused;
#  features: "match" adds --match_features)
RUNS="int8-lsq-w int8-lsq-w 20 1e-4 scales 1e-4 0 7 -
int8-w-rtn int8-lsq-w 0 1e-4 scales 1e-4 0 3 -
w8a8-lsq w8a8-lsq 20 1e-2 scales 1e-4 1e-3 7 match
w8a8-rtn w8a8-lsq 0 1e-4 scales 1e-4 0 3 -
w4a8-lsq w4a8-lsq 20 1e-2 all 3e-5 1e-3 7 -
w4a8-rtn w4a8-lsq 0 1e-4 scales 1e-4 0 3 -"
while read -r name recipe epochs lr trainable weight_lr rate_weight gop_unroll features; do
  match=""; [ "$features" = match ] && match="--match_features"
  $VQ codec calibrate --recipe $recipe --calib_config $R/calib_config.json --test_config $R/test_config.json \
      --epochs $epochs --lr $lr --trainable $trainable --weight_lr $weight_lr --rate_weight $rate_weight \
      --gop_unroll $gop_unroll $match -o $R/students/$name.safetensors > $R/$name.calibrate.txt
  $VQ codec test $TEST --quant $R/students/$name.safetensors --output_path $R/$name.json
  $VQ bd $R/fp32.json $R/$name.json --json $R/$name.bd.json > $R/$name.bd.txt
done <<< "$RUNS"

$VQ codec test $TEST --quant $R/students/w8a8-lsq.safetensors --open_loop --output_path $R/w8a8-lsq.open_loop.json
$VQ bd $R/fp32.json $R/w8a8-lsq.open_loop.json --json $R/w8a8-lsq.open_loop.bdtable.json > $R/w8a8-lsq.open_loop.bd.txt
for name in int8-lsq-w w8a8-lsq w4a8-lsq; do
  $VQ codec drift ../shared/data/video/h264/foreman_cif_BA1_FT_C.264 --quant $R/students/$name.safetensors \
      --frames 33 --qp 24 --reset_interval 64 --json $R/drift_$name.json > $R/drift_$name.txt
done
$VQ bd $R/fp32.json $R/w8a8-lsq.json --plot $R/rd_w8a8-lsq.png > /dev/null
$PY benchmarks/codec_int8_summary.py $R --readme README.md --doc docs/codec-int8.md
