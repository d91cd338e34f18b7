#!/usr/bin/env bash
# failed_build_test.sh CNNGEN SPEC WORK_DIR
# A build that fails while generating exits 1 with a clear message and leaves neither the
# output directory nor its DIR.partial staging directory behind.
set -uo pipefail
cnngen=$1 spec=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
"$cnngen" build "$spec" --schedule gpu --target host -o "$work/out" >"$work/log" 2>&1
status=$?
cat "$work/log"
[[ $status -eq 1 ]] || { echo "expected exit 1, got $status"; exit 1; }
grep -q "schedule 'gpu' needs a GPU target" "$work/log" || { echo "message does not name the GPU target"; exit 1; }
leftovers=$(ls -A "$work" | grep -v '^log$' || true)
[[ -z $leftovers ]] || { echo "left behind: $leftovers"; exit 1; }
echo "failed build left nothing behind"
