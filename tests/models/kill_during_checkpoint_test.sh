#!/usr/bin/env bash
# kill_during_checkpoint_test.sh MODEL_EXE DATA_DIR WORK_DIR ROUNDS
# Kills training with SIGKILL many times; after each kill the checkpoint must load in
# `predict` and training must resume from it. Each round waits for an event, not a time: the
# round's first new checkpoint (checkpoints come every ~10 steps, so later kills land at any
# point of the next write), then kills after a random number of polls.
set -euo pipefail
exe=$1 data=$2 work=$3 rounds=${4:-20}
rm -rf "$work" && mkdir -p "$work"
resume=()
step_of() { [[ -e $work/ckpt/state.txt ]] && grep -o 'step=[0-9]*' "$work/ckpt/state.txt" || echo none; }
for round in $(seq 1 "$rounds"); do
  before=$(step_of)
  "$exe" --threads 1 train --data "$data" --epochs 1000000 --out "$work/ckpt" --quiet "${resume[@]}" >/dev/null 2>&1 &
  pid=$!
  # A loaded machine only makes this wait longer; a trainer that exits is a failure.
  until [[ $(step_of) != "$before" ]]; do
    kill -0 "$pid" 2>/dev/null || { echo "round $round: training exited before writing a checkpoint"; exit 1; }
    sleep 0.01
  done
  for _ in $(seq 1 $((RANDOM % 20))); do sleep 0.005; done
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  if ! "$exe" predict --weights "$work/ckpt" --input "$data/t10k-images-idx3-ubyte" >/dev/null 2>"$work/error.txt"; then
    echo "round $round: checkpoint does not load: $(cat "$work/error.txt")"
    exit 1
  fi
  resume=(--resume "$work/ckpt")
  echo "round $round: killed after $before; checkpoint at $(step_of) loads"
done
echo "$rounds of $rounds kills left a loadable checkpoint; none left a broken one"
