#!/usr/bin/env bash
# reproducible_test.sh CNNGEN SPEC WORK_DIR: two builds of one spec are byte-identical, one
# generating its functions one at a time, the other all at once (--jobs).
set -euo pipefail
cnngen=$1 spec=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
# One target, and a multi-target library with its run-time dispatch wrappers.
for target in x86-64-linux-avx2 x86-64-linux-avx2-fma,x86-64-linux-sse41; do
  for copy in a:1 b:8; do
    "$cnngen" build "$spec" --target "$target" --schedule cpu --inference-only --no-executable \
      --jobs "${copy#*:}" -o "$work/${copy%:*}" >/dev/null
  done
  for f in "$work"/a/*; do
    cmp "$f" "$work/b/$(basename "$f")"
  done
  echo "$target: identical, $(ls "$work/a" | wc -l) files"
done
