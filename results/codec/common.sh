# Sourced by the scripts of results/codec (run from the repository root): the folder, the Python
# that runs vidquant (PYTHON, default python), the evaluation's rate points.
R=results/codec
PY="env PYTHONPATH=src OMP_NUM_THREADS=1 ${PYTHON:-python}"
VQ="$PY -m vidquant"
RATES="--qp_i 0 12 24 36 --reset_interval 32"

# clip_test CLASS CLIP:WxH ...: a config of clips outside calibration and evaluation in a temporary
# folder (TMP, removed on exit; the config names absolute paths of this machine), TEST naming it,
# and the float codec's result on them in $TMP/fp32.json.
clip_test() {
  TMP=$(mktemp -d)
  trap 'rm -rf "$TMP"' EXIT
  $PY $R/clip_config.py "$TMP/config.json" "$@"
  TEST="--test_config $TMP/config.json $RATES"
  $VQ codec test $TEST --output_path "$TMP/fp32.json" > /dev/null 2>&1
}
