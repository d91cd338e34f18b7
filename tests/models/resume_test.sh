#!/usr/bin/env bash
# resume_test.sh MODEL_EXE DATA_DIR WORK_DIR
# Training interrupted and resumed gives bitwise the weights of an uninterrupted run;
# the same seed gives the same weights; predict loads a checkpoint as it is.
set -euo pipefail
exe=$1 data=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
common=(--data "$data" --epochs 1 --seed 7 --lr 0.02 --momentum 0.9 --weight-decay 1e-4 --quiet)
"$exe" --threads 2 train "${common[@]}" --max-steps 40 --out "$work/straight" >/dev/null
"$exe" --threads 2 train "${common[@]}" --max-steps 15 --out "$work/first" >/dev/null
"$exe" --threads 2 train "${common[@]}" --max-steps 40 --resume "$work/first" --out "$work/resumed" >/dev/null
"$exe" --threads 2 train "${common[@]}" --max-steps 15 --out "$work/again" >/dev/null
compare() {
  local a=$1 b=$2 files=0
  for f in "$a"/*.npy "$a"/optimizer/*.npy; do
    cmp -s "$f" "$b/${f#"$a"/}" || { echo "differs: $f vs $b/${f#"$a"/}"; exit 1; }
    files=$((files + 1))
  done
  echo "identical: $a and $b ($files tensors)"
}
compare "$work/straight" "$work/resumed"
compare "$work/first" "$work/again"
grep -q "step=40" "$work/resumed/state.txt"
"$exe" predict --weights "$work/resumed" --input "$data/t10k-images-idx3-ubyte.gz" | grep "accuracy:"
