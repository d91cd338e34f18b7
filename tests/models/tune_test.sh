#!/usr/bin/env bash
# `cnngen tune` end to end, on LeNet-5 with a few candidates and short timings (the figures
# mean nothing here; the flow does).
#   short:  a tune writes a schedule file that builds and matches the naive reference values
#   resume: a tune interrupted once two candidates are cached goes on from them; a re-tune
#           builds nothing
#   qemu:   a tune for arm-64-linux measured under qemu-aarch64 completes
# Usage: tune_test.sh short|resume|qemu CNNGEN SPEC WORK_DIR
set -euo pipefail
mode=$1 cnngen=$2 spec=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
quick=(--seconds 0.05 --repeats 1 --no-autoschedulers --cache "$work/cache" --budget 20m)
fail() { echo "FAILED: $*"; exit 1; }

case $mode in
short)
  "$cnngen" tune "$spec" --objective all --max-candidates 4 "${quick[@]}" -o "$work/tuned.schedule.toml" | tee "$work/tune.log"
  grep -q "^#   cpu  " "$work/tuned.schedule.toml" || fail "no cpu row in the written file"
  grep -q "^#   tuned (" "$work/tuned.schedule.toml" || fail "no tuned row in the written file"
  # The batch sizes the tune built its reference with (1 and --batch 256), so the values line up.
  "$cnngen" build "$spec" --schedule "$work/tuned.schedule.toml" --batch-sizes 1,256 -o "$work/built" | tail -1
  reference=$(ls -d "$work"/cache/reference-*)
  "$work/built/lenet5" verify --against "$reference"
  ;;
resume)
  command=("$cnngen" tune "$spec" --objective latency --max-candidates 6 "${quick[@]}" -o "$work/tuned.schedule.toml")
  "${command[@]}" >"$work/first.log" 2>&1 &
  tune=$!
  # Wait for an event, not a time: two finished candidates on disk.
  until [[ $(find "$work/cache/records" -name '*.toml' 2>/dev/null | wc -l) -ge 2 ]]; do
    kill -0 $tune 2>/dev/null || fail "the first tune ended before two candidates were cached: $(tail -3 "$work/first.log")"
    sleep 0.2
  done
  kill -INT $tune
  wait $tune && fail "the interrupted tune exited 0"
  [[ ! -e $work/tuned.schedule.toml ]] || fail "the interrupted tune wrote its output"
  cached=$(find "$work/cache/records" -name '*.toml' | wc -l)
  "${command[@]}" | tee "$work/second.log"
  summary=$(grep '^tuned lenet5' "$work/second.log")
  [[ $summary =~ \(([0-9]+)\ built,\ ([0-9]+)\ from\ the\ cache\) ]] || fail "no summary line"
  (( BASH_REMATCH[2] >= cached )) || fail "resumed with ${BASH_REMATCH[2]} candidates from the cache, $cached were there"
  "${command[@]}" | tee "$work/third.log"
  grep -q "(0 built, 6 from the cache)" "$work/third.log" || fail "the re-tune built candidates again"
  ;;
qemu)
  # qemu-user 7.2 hangs when a guest creates a thread: one Halide thread (see cross_aarch64_test.sh).
  "$cnngen" tune "$spec" --target arm-64-linux --objective latency --max-candidates 3 --threads 1 "${quick[@]}" \
    --runner "env HL_NUM_THREADS=1 timeout 600 qemu-aarch64 -L /usr/aarch64-linux-gnu" -o "$work/tuned.schedule.toml" |
    tee "$work/tune.log"
  grep -q "^# Made by .*--target arm-64-linux .*--runner 'env HL_NUM_THREADS=1" "$work/tuned.schedule.toml" ||
    fail "the file does not record the target and runner"
  "$cnngen" build "$spec" --target arm-64-linux --schedule "$work/tuned.schedule.toml" --inference-only -o "$work/arm" |
    tail -1
  ;;
*) fail "unknown mode $mode" ;;
esac
echo "tune $mode: passed"
