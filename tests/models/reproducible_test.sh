#!/usr/bin/env bash
# reproducible_test.sh CNNGEN SPEC WORK_DIR: two builds of one spec are byte-identical.
set -euo pipefail
cnngen=$1 spec=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
for copy in a b; do
  "$cnngen" build "$spec" --target x86-64-linux-avx2 --schedule cpu --inference-only --no-executable \
    -o "$work/$copy" >/dev/null
done
for f in "$work"/a/*; do
  cmp "$f" "$work/b/$(basename "$f")"
done
echo "identical: $(ls "$work/a" | wc -l) files"
