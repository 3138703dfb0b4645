#!/usr/bin/env bash
# Regenerates results/bench/: the codec decoder latency tables (codec_decoder.*: full-size preset;
# codec_decoder_small.*: small preset;
# 352x288, one thread) and the ONNX Runtime decoder inside `vidquant codec test` against the
# PyTorch fake-quant decoder on 2 sequences (layer-scope w8a8-lsq and graph-scope w8a8-static).
# Run from the repository root (../shared/data must exist): PYTHON=/work/venv/bin/python results/bench/run.sh
set -euo pipefail
R=results/bench
PY="env PYTHONPATH=src OMP_NUM_THREADS=1 ${PYTHON:-python}"
VQ="$PY -m vidquant"
# the full-size decoder is the codec_decoder.json; the small preset's sits beside it
for preset in dcvc-rt dcvc-rt-small; do
  name=codec_decoder; [ $preset = dcvc-rt-small ] && name=codec_decoder_small
  $VQ bench $preset-decoder --recipe w8a8-static --threads 1 --runs 20 --json $R/$name.json > $R/$name.txt
done
mkdir -p $R/students $R/codec_onnx
TEST="--test_config $R/test_config_2seq.json --qp_i 0 12 24 36 --reset_interval 32"
for recipe in w8a8-lsq w8a8-static; do
  $VQ codec calibrate --recipe $recipe --calib_config results/codec/calib_config.json \
      --test_config $R/test_config_2seq.json --epochs 0 -o $R/students/$recipe-rtn.safetensors > /dev/null
  backends="torch onnx onnx-reference"
  # graph scope: `torch` computes integer-kernel arithmetic; torch-fake-quant shows float arithmetic beside it
  [ $recipe = w8a8-static ] && backends="$backends torch-fake-quant"
  for backend in $backends; do
    $VQ codec test $TEST --quant $R/students/$recipe-rtn.safetensors --backend $backend \
        --output_path $R/codec_onnx/$recipe-rtn.$backend.json 2> /dev/null
  done
  $VQ bd $R/codec_onnx/$recipe-rtn.torch.json $R/codec_onnx/$recipe-rtn.onnx.json \
      --json $R/codec_onnx/$recipe-rtn.onnx_vs_torch.bd.json > $R/codec_onnx/$recipe-rtn.onnx_vs_torch.bd.txt
done
$PY benchmarks/codec_onnx_parity.py $R/codec_onnx > $R/codec_onnx/parity.txt
