#!/usr/bin/env bash
# kill_during_checkpoint_test.sh MODEL_EXE DATA_DIR WORK_DIR ROUNDS
# Kills training with SIGKILL at random moments (checkpoints are written every ~10 steps,
# so many kills land mid-write); after each kill the checkpoint must load in `predict`
# and training must resume from it.
set -euo pipefail
exe=$1 data=$2 work=$3 rounds=${4:-20}
rm -rf "$work" && mkdir -p "$work"
resume=()
loaded=0
for round in $(seq 1 "$rounds"); do
  "$exe" --threads 1 train --data "$data" --epochs 1000000 --out "$work/ckpt" --quiet "${resume[@]}" >/dev/null 2>&1 &
  pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % 900 + 100)))"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  if [[ -e $work/ckpt ]]; then
    if ! "$exe" predict --weights "$work/ckpt" --input "$data/t10k-images-idx3-ubyte" >/dev/null 2>"$work/error.txt"; then
      echo "round $round: checkpoint does not load: $(cat "$work/error.txt")"
      exit 1
    fi
    loaded=$((loaded + 1))
    resume=(--resume "$work/ckpt")
    echo "round $round: killed; checkpoint at $(grep step= "$work/ckpt/state.txt") loads"
  else
    echo "round $round: killed before the first checkpoint"
  fi
done
[[ $loaded -gt 0 ]] || { echo "no checkpoint was ever written"; exit 1; }
echo "$loaded of $rounds kills left a loadable checkpoint; none left a broken one"
