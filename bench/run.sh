#!/usr/bin/env bash
# Builds the LeNet-5 variants (one per schedule) and runs them side by side with PyTorch and
# ONNX Runtime (npm's onnxruntime-node, on PyTorch's ONNX export of the same network) in one run,
# with a FMA peak measured in the same run. Prints a table and writes bench/results/lenet5.csv
# and lenet5.png. ORT and node are benchmark peers only: nothing cnngen builds uses them.
# Usage: bench/run.sh [THREADS]   (SECONDS per case, SCHEDULES and BUILD override)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-$(nproc)}
build=${BUILD:-$root/build}
results=$root/bench/results
variants=$build/bench-variants
# Variants: label, schedule (a built-in name or a schedule file), extra `cnngen build` flags.
# Mullapudi2016 fails with an internal error on LeNet-5's training step (fused or chained) and
# Li2018 on its batch-256 inference ("Atomic predicated store"), so both are inference only. Adams2019 is left out by default: on LeNet-5 it was still
# on pass 3 of 5 of its first function after 5 minutes, at 8 GB, on a 2-core machine
# (SCHEDULES="... adams2019" includes it, inference only).
declare -A variant_schedule=(
  [naive]=naive [cpu]=cpu [cpu-chained]=cpu [fused]="$root/models/lenet5.schedule.toml"
  [mullapudi2016]=mullapudi2016 [li2018]=li2018 [adams2019]=adams2019 [cuda]=gpu)
declare -A variant_flags=([cpu-chained]="--train-step chained" [mullapudi2016]=--inference-only
                          [li2018]=--inference-only [adams2019]=--inference-only)
labels=${SCHEDULES:-"naive cpu cpu-chained fused mullapudi2016 li2018 cuda"}
mkdir -p "$results" "$variants"
"$root/scripts/install-deps.sh" --with-torch --with-ort
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target cnngen
g++ -O3 -march=native -pthread "$root/bench/fma_peak.cpp" -o "$variants/fma_peak"

raw=$results/raw.csv
echo "model,target,schedule,kind,batch,latency_us,img_per_s" >"$raw"
for label in $labels; do
  schedule=${variant_schedule[$label]:?"unknown variant $label (known: ${!variant_schedule[*]})"}
  target=host
  [[ $label == cuda ]] && target=host-cuda-cuda_capability_80
  start=$(date +%s.%N)
  # shellcheck disable=SC2086  # the flags are words
  if ! "$build/generators/cnngen" build "$root/models/lenet5.toml" --target $target --schedule "$schedule" \
      --name lenet5 -o "$variants/$label" ${variant_flags[$label]:-} >"$variants/$label.log" 2>&1; then
    echo "$label: generation failed (see $variants/$label.log)"
    continue
  fi
  printf "%s: generated in %.1f s\n" "$label" "$(echo "$(date +%s.%N) - $start" | bc)"
  if [[ $label == cuda ]] && ! ldconfig -p | grep -q libcuda.so.1; then
    echo "cuda: built (PTX embedded), not run: no CUDA driver on this machine"
    continue
  fi
  # The variant's label replaces the schedule column (cpu-chained records schedule cpu).
  "$variants/$label/lenet5" --threads "$threads" bench --csv --seconds "${SECONDS_PER_CASE:-2}" | tail -n +2 |
    awk -F, -v OFS=, -v label="$label" '{ $3 = label; print }' >>"$raw"
done
/usr/bin/python3 "$root/bench/pytorch_lenet5.py" --threads "$threads" --seconds "${SECONDS_PER_CASE:-2}" | tail -n +2 >>"$raw"
# ORT 1.30's install script downloads from outside the registry and fails; the linux x64 CPU
# library is inside the package.
ort=$variants/ort
if [[ ! -d $ort/node_modules/onnxruntime-node ]]; then
  npm install --prefix "$ort" --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30.0 >"$ort.log" 2>&1 ||
    { echo "ort: npm install failed (see $ort.log)"; exit 1; }
fi
(cd "$root/bench" && /usr/bin/python3 export_onnx.py "$ort/onnx") >"$ort-export.log" 2>&1
NODE_PATH=$ort/node_modules node "$root/bench/ort_bench.js" "$ort/onnx" "$threads" "${SECONDS_PER_CASE:-2}" 1,64,256 |
  tail -n +2 >>"$raw"
peak=$("$variants/fma_peak" "$threads")
/usr/bin/python3 "$root/bench/report.py" "$raw" "$peak" "$threads" "$results/lenet5"
