#!/usr/bin/env bash
# The cpu schedule's statement for tests/models/depthwise-blocks.toml at batch 1, generated for
# AVX-512 whatever this machine has (the library is never run, so the check reads the same on any
# host): each depthwise output is computed a band of rows at a time inside its projection's tasks
# where the projection's rows are the outer loop (56x56, and 28x28 where one channel tile leaves
# rows to share), and the depthwise layers tiled across channels (28x28 and below) read their
# padded input as whole vectors of channels, never as a gather across channel planes.
# Usage: depthwise_blocks_stmt_test.sh CNNGEN SPEC WORK_DIR
set -euo pipefail
cnngen=$1 spec=$2 work=$3
rm -rf "$work"
"$cnngen" build "$spec" --target x86-64-linux-avx512_skylake --inference-only --batch-sizes 1 --no-executable \
  --no-mpi --emit-stmt -o "$work" | tail -1
stmt=$work/depthwise_blocks_forward_b1.stmt
for projection in project1 project2; do
  grep -q "par_for_${projection}_s0_y_band" "$stmt" ||
    { echo "$projection: no loop over bands of rows in $stmt"; exit 1; }
done
reads=$(grep -oE 'dw[23]_padded\[ramp\([^]]*\]' "$stmt") ||
  { echo "no vector reads of dw2_padded or dw3_padded in $stmt"; exit 1; }
if gathers=$(grep -vE ', 1, 16\) *(aligned\([0-9, ]*\))?\]$' <<<"$reads"); then
  echo "depthwise inputs read other than as whole 16-float vectors of channels:"
  echo "$gathers" | head -5
  exit 1
fi
echo "bands for project1 and project2, and $(wc -l <<<"$reads") contiguous channel-vector reads of dw2/dw3's padded inputs"
