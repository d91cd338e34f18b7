#!/usr/bin/env bash
# Builds every shipped model (LeNet-5 once per variant: schedules, the schedule file beside the
# spec, the chained training step; lenet5-classic, alexnet-small, alexnet and vgg16 as `cnngen
# build` makes them by default; each also inference-only at batch 1, timed with its peak memory)
# and runs them side by side with PyTorch and ONNX Runtime (npm's onnxruntime-node, on PyTorch's
# ONNX export of the same network) in one run, with a FMA peak measured in the same run. Prints a
# table per model and the scale table; writes bench/results/MODEL.csv and MODEL.png, scale.csv
# (build and memory figures) and scale.table.csv. ORT and node are benchmark peers only: nothing
# cnngen builds uses them.
# Usage: bench/run.sh [THREADS]   (SECONDS_PER_CASE, SCHEDULES, MODELS and BUILD override;
# TARGET builds cnngen's models for that Halide target, e.g. x86-64-linux-avx2-fma, with results
# in bench/results/TARGET; for an AVX2 target without AVX-512 the FMA peak is measured with AVX2's
# vectors, else with this machine's; the peers run as they would on this machine)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-$(nproc)}
build=${BUILD:-$root/build}
target=${TARGET:-host}
results=$root/bench/results${TARGET:+/$TARGET}
variants=$build/bench-variants${TARGET:+-$TARGET}
seconds=${SECONDS_PER_CASE:-2}
# Every build here is --no-mpi: the bench times the fused training step, and the split step an
# MPI build adds would only lengthen the build figures.
# LeNet-5 variants: label, schedule (a built-in name or a schedule file), extra `cnngen build` flags.
# Mullapudi2016 fails with an internal error on LeNet-5's training step (fused or chained) and
# Li2018 on its batch-256 inference ("Atomic predicated store"), so both are inference only.
# Adams2019 is left out by default: on LeNet-5 it was still on pass 3 of 5 of its first function
# after 5 minutes, at 8 GB, on a 2-core machine
# (SCHEDULES="... adams2019" includes it, inference only).
declare -A variant_schedule=(
  [naive]=naive [cpu]=cpu [cpu-chained]=cpu [fused]="$root/models/lenet5.fused.schedule.toml"
  [tuned]="$root/models/lenet5.schedule.toml"
  [mullapudi2016]=mullapudi2016 [li2018]=li2018 [adams2019]=adams2019 [cuda]=gpu)
declare -A variant_flags=([cpu-chained]="--train-step chained" [mullapudi2016]=--inference-only
                          [li2018]=--inference-only [adams2019]=--inference-only)
labels=${SCHEDULES:-"naive cpu cpu-chained fused tuned mullapudi2016 li2018 cuda"}
# The models, by spec name; all but LeNet-5 in their default build only. ResNet-50's and
# MobileNetV2's training steps are left out (each takes many minutes to generate); ResNet-18's
# (its default build took 357 s in the 2026-12-07 run) is timed against PyTorch's.
models=${MODELS:-"lenet5 lenet5-classic alexnet-small resnet-small alexnet vgg16 resnet18 resnet50 mobilenet_v2"}
inference_only=" resnet50 mobilenet_v2 "
mkdir -p "$results" "$variants"
"$root/scripts/install-deps.sh" --with-torch --with-ort
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target cnngen
peak_flags=-march=native
[[ $target == *avx2* && $target != *avx512* ]] && peak_flags=-march=haswell  # AVX2 and FMA, no AVX-512
g++ -O3 $peak_flags -pthread "$root/bench/fma_peak.cpp" -o "$variants/fma_peak"

raw=$results/raw.csv
echo "model,target,schedule,kind,batch,latency_us,img_per_s" >"$raw"
# cnngen's own rows: the library's `bench` CSV, the schedule column replaced by LABEL.
run_cnngen_bench() {  # EXECUTABLE LABEL
  "$1" --threads "$threads" bench --csv --seconds "$seconds" | tail -n +2 |
    awk -F, -v OFS=, -v label="$2" '{ $3 = label; print }' >>"$raw"
}
# Scale rows (model,what,seconds,peak_mib): each model's default build and an inference-only
# batch-1 build, timed with their peak memory, and the peak resident memory of batch-1 inference
# alone and of the whole bench (training included).
scale=$results/scale.csv
echo "model,what,seconds,peak_mib" >"$scale"
measured() {  # MODEL WHAT LOG COMMAND...: runs it, appends its wall time and peak memory
  local model=$1 what=$2 log=$3 usage seconds kib
  shift 3
  usage=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$usage" "$@" >"$log" 2>&1 ||
    { echo "$model: $what failed (see $log)"; rm -f "$usage"; return 1; }
  read -r seconds kib <"$usage"
  rm -f "$usage"
  echo "$model,$what,$seconds,$((kib / 1024))" >>"$scale"
}
for label in $labels; do
  [[ " $models " == *" lenet5 "* ]] || break
  schedule=${variant_schedule[$label]:?"unknown variant $label (known: ${!variant_schedule[*]})"}
  variant_target=$target
  [[ $label == cuda ]] && variant_target=host-cuda-cuda_capability_80
  # shellcheck disable=SC2086  # the flags are words
  measured lenet5 "build_$label" "$variants/$label.log" "$build/generators/cnngen" build "$root/models/lenet5.toml" \
    --target $variant_target --schedule "$schedule" --name lenet5 -o "$variants/$label" --no-mpi ${variant_flags[$label]:-} ||
    continue
  echo "$label: generated in $(tail -1 "$scale" | cut -d, -f3) s"
  if [[ $label == cuda ]] && ! ldconfig -p | grep -q libcuda.so.1; then
    echo "cuda: built (PTX embedded), not run: no CUDA driver on this machine"
    continue
  fi
  run_cnngen_bench "$variants/$label/lenet5" "$label"  # cpu-chained records schedule cpu
done
for model in $models; do
  name=${model//-/_}
  measured "$name" build_inference_b1 "$variants/$name-inference.log" "$build/generators/cnngen" build \
    "$root/models/$model.toml" --target "$target" --inference-only --batch-sizes 1 --name "$name" \
    -o "$variants/$name-inference" ||
    continue
  measured "$name" inference_b1 "$variants/$name-inference-bench.log" \
    "$variants/$name-inference/$name" --threads "$threads" bench --only-batch 1 --seconds "$seconds" || continue
  [[ $model == lenet5 ]] && continue  # built above as the `tuned` variant, its default
  default_flags=""
  [[ $inference_only == *" $model "* ]] && default_flags=--inference-only
  # shellcheck disable=SC2086  # the flags are words
  measured "$name" build_default "$variants/$name.log" "$build/generators/cnngen" build "$root/models/$model.toml" \
    --target "$target" --name "$name" -o "$variants/$name" --no-mpi $default_flags || continue
  echo "$model: generated (default build)"
  bench_log=$variants/$name-bench.csv
  measured "$name" bench "$bench_log" "$variants/$name/$name" --threads "$threads" bench --csv --seconds "$seconds" ||
    continue
  # The default build takes the tuned schedule file beside the spec when there is one.
  label=default
  [[ -f $root/models/$model.schedule.toml ]] && label=tuned
  tail -n +2 "$bench_log" | awk -F, -v OFS=, -v label="$label" '{ $3 = label; print }' >>"$raw"
  # Beside it, what the tune started from and was measured against: the hand-written file and cpu.
  # (AlexNet's and VGG-16's tuned files are the cpu schedule itself: nothing to compare there.)
  [[ -f $root/models/$model.fused.schedule.toml ]] || continue
  for variant in cpu fused; do
    schedule=cpu
    [[ $variant == fused ]] && schedule=$root/models/$model.fused.schedule.toml
    "$build/generators/cnngen" build "$root/models/$model.toml" --target "$target" --schedule "$schedule" \
      --name "$name" --no-mpi -o "$variants/$name-$variant" >"$variants/$name-$variant.log" 2>&1 ||
      { echo "$model: the $variant build failed (see $variants/$name-$variant.log)"; continue; }
    run_cnngen_bench "$variants/$name-$variant/$name" "$variant"
  done
done
# ORT 1.30's install script downloads from outside the registry and fails; the linux x64 CPU
# library is inside the package.
ort=$variants/ort
if [[ ! -d $ort/node_modules/onnxruntime-node ]]; then
  npm install --prefix "$ort" --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30.0 >"$ort.log" 2>&1 ||
    { echo "ort: npm install failed (see $ort.log)"; exit 1; }
fi
for model in $models; do
  name=${model//-/_}
  # The batch sizes the spec builds, and its training batch.
  spec=$root/models/$model.toml
  batches=$(sed -n 's/^batch_sizes *= *\[\(.*\)\].*/\1/p' "$spec" | tr -d ' ')
  train_batch=$(sed -n 's/^train_batch *= *\([0-9]*\).*/\1/p' "$spec")
  [[ $inference_only == *" $model "* ]] && train_batch=0
  /usr/bin/python3 "$root/bench/pytorch_models.py" --model "$name" --threads "$threads" --batches "$batches" \
    --train-batch "$train_batch" --seconds "$seconds" | tail -n +2 >>"$raw"
  shape=$(cd "$root/bench" && /usr/bin/python3 export_onnx.py "$name" "$ort/onnx" 2>"$ort-$name-export.log" | tail -1) ||
    { echo "$model: ONNX export failed (see $ort-$name-export.log)"; exit 1; }
  NODE_PATH=$ort/node_modules node "$root/bench/ort_bench.js" "$ort/onnx" "$name" "$shape" "$threads" \
    "$seconds" "$batches" | tail -n +2 >>"$raw"
done
# Wall time to 89% Fashion-MNIST test accuracy, whole processes from start (data loading
# included), same recipe both sides: LeNet-5's default build (the `tuned` variant) against PyTorch.
data=/usr/share/datasets/fashion-mnist
if [[ " $models " == *" lenet5 "* && -x $variants/tuned/lenet5 && -d $data ]]; then
  to_accuracy() {  # LABEL TARGET COMMAND...: appends the row, prints the run's last line
    local label=$1 target=$2 start log=$variants/to-accuracy-$1.log
    shift 2
    start=$(date +%s.%N)
    "$@" >"$log" 2>&1 || { echo "$label: training run failed (see $log)"; return; }
    local seconds
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    grep -q "^reached" "$log" || { echo "$label: $(tail -1 "$log")"; return; }
    echo "lenet5,$target,$label,to_accuracy,64,$(echo "$seconds * 1000000" | bc),0" >>"$raw"
    printf "%s: %s; %.1f s in all\n" "$label" "$(grep "^reached" "$log")" "$seconds"
  }
  # In $variants: `train` writes its curves (train-curves.csv/png) to the working directory.
  (cd "$variants" && to_accuracy tuned "$target" "$variants/tuned/lenet5" --threads "$threads" train --data "$data" \
    --epochs 20 --lr 0.01 --momentum 0.9 --seed 1 --until-accuracy 89 --quiet)
  (cd "$root/bench" && to_accuracy pytorch pytorch /usr/bin/python3 pytorch_train_to_accuracy.py "$data" 89 "$threads" 20)
elif [[ " $models " == *" lenet5 "* ]]; then
  echo "time to 89%: skipped (needs the tuned variant in SCHEDULES and $data)"
fi
# The small residual network beside LeNet-5: the main job's 10-epoch recipe (scripts/run.sh),
# its test accuracy after each epoch.
if [[ " $models " == *" resnet-small "* && -x $variants/resnet_small/resnet_small && -d $data ]]; then
  (cd "$variants" && "$variants/resnet_small/resnet_small" --threads "$threads" train --data "$data" --epochs 10 \
    --lr 0.01 --momentum 0.9 --seed 1 --lr-policy step --lr-stepsize 7496 --lr-gamma 0.1 \
    --out "$variants/resnet_small-checkpoints") | grep "test accuracy" | tee "$results/resnet_small-accuracy.txt"
fi
peak=$("$variants/fma_peak" "$threads")
/usr/bin/python3 "$root/bench/report.py" "$raw" "$peak" "$threads" "$results" "$scale"
