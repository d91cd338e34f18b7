#!/usr/bin/env bash
# A schedule file's build gives the naive build's values (`MODEL verify`: logits, and two SGD
# steps unless INFERENCE_ONLY is set), for schedules cnngen tune found broken once, and for
# builds that differ in other ways (SCHEDULED_FLAGS: more flags for the scheduled build alone).
# Usage: schedule_matches_naive_test.sh CNNGEN SPEC SCHEDULE WORK_DIR
set -euo pipefail
cnngen=$1 spec=$2 schedule=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
flags=(--batch-sizes 1,7)
[[ -n ${INFERENCE_ONLY:-} ]] && flags+=(--inference-only)
name=$(sed -n 's/^name *= *"\(.*\)".*/\1/p' "$spec" | head -1)  # the model's, before any layer's
"$cnngen" build "$spec" --schedule naive "${flags[@]}" -o "$work/naive" | tail -1
"$cnngen" build "$spec" --schedule "$schedule" "${flags[@]}" ${SCHEDULED_FLAGS:-} -o "$work/scheduled" | tail -1
"$work/naive/$name" verify --write "$work/reference" >/dev/null
"$work/scheduled/$name" verify --against "$work/reference" | tail -1
