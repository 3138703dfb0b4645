#!/usr/bin/env bash
# Regenerates results/codec_int8/: FP32 and per-recipe codec test JSON, BD tables, drift.
# Run from the repository root (../shared/data must exist). One thread per process.
set -euo pipefail
R=results/codec_int8
VQ_PY="env PYTHONPATH=src ${PYTHON:-python}"
VQ="env PYTHONPATH=src OMP_NUM_THREADS=1 ${PYTHON:-python} -m vidquant"
EPOCHS=${EPOCHS:-20}
TEST="--test_config $R/test_config.json --qp_i 0 12 24 36 --reset_interval 32"
mkdir -p $R/students
$VQ codec test $TEST --output_path $R/fp32.json
for recipe in ${RECIPES:-int8-lsq-w w8a8-lsq w4a8-lsq}; do
  for mode in lsq rtn; do
    epochs=$EPOCHS; [ $mode = rtn ] && epochs=0
    name=${recipe}; [ $mode = rtn ] && name=${recipe%-lsq*}-rtn; [ $recipe = int8-lsq-w ] && [ $mode = rtn ] && name=int8-w-rtn
    $VQ codec calibrate --recipe $recipe --calib_config $R/calib_config.json --test_config $R/test_config.json \
        --epochs $epochs --lr 1e-4 --trainable scales --gop_unroll 3 -o $R/students/$name.safetensors | tee $R/$name.calibrate.txt
    $VQ codec test $TEST --quant $R/students/$name.safetensors --output_path $R/$name.json
    $VQ bd $R/fp32.json $R/$name.json --json $R/$name.bd.json | tee $R/$name.bd.txt
  done
done
$VQ codec test $TEST --quant $R/students/w8a8-lsq.safetensors --open_loop --output_path $R/w8a8-lsq.open_loop.json
$VQ codec drift ../shared/data/video/h264/foreman_cif_BA1_FT_C.264 --quant $R/students/w8a8-lsq.safetensors \
    --frames 33 --qp 42 --reset_interval 64 --json $R/drift_w8a8-lsq.json | tee $R/drift_w8a8-lsq.txt
$VQ bd $R/fp32.json $R/w8a8-lsq.json --plot $R/rd_w8a8-lsq.png
$VQ_PY benchmarks/codec_int8_summary.py $R
