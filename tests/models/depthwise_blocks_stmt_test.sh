#!/usr/bin/env bash
# The cpu schedule's statement for tests/models/depthwise-blocks.toml at batch 1: each depthwise
# output is computed a band of rows at a time inside its projection's tasks where the projection's
# rows are the outer loop (56x56, and 28x28 where one channel tile leaves rows to share), and the
# depthwise layers tiled across channels (28x28 and below) read their padded input as whole
# vectors of channels, never as a gather across channel planes.
# Usage: depthwise_blocks_stmt_test.sh FORWARD_B1_STMT
set -euo pipefail
stmt=$1
for projection in project1 project2; do
  grep -q "par_for_${projection}_s0_y_band" "$stmt" ||
    { echo "$projection: no loop over bands of rows in $stmt"; exit 1; }
done
if grep -q "par_for_project3_s0_y_band" "$stmt"; then
  echo "project3: banded at 7x7 rows (too few for bands of 7)"
  exit 1
fi
reads=$(grep -oE 'dw[23]_padded\[ramp\([^]]*\]' "$stmt")
[[ -n $reads ]] || { echo "no vector reads of dw2_padded or dw3_padded in $stmt"; exit 1; }
if gathers=$(grep -vE ', 1, [0-9]+\) *(aligned\([0-9, ]*\))?\]$' <<<"$reads"); then
  echo "depthwise inputs read across channel planes:"
  echo "$gathers" | head -5
  exit 1
fi
echo "bands for project1 and project2, and $(wc -l <<<"$reads") contiguous channel-vector reads of dw2/dw3's padded inputs"
