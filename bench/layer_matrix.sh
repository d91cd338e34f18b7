#!/usr/bin/env bash
# Generates every layer family with every schedule through the layer generators and
# prints which schedules succeed and how long generation takes (the layers x schedules
# matrix). Usage: bench/layer_matrix.sh [BUILD_DIR]   (SCHEDULES overrides the list)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
generator=$build/generators/layer_generators
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cores=$(nproc)
declare -A params=(
  [conv2d]="batch=64 channels=6 height=14 width=14 out_channels=16 kernel_h=5 kernel_w=5"
  [pool2d]="batch=64 channels=6 height=28 width=28 kind=max"
  [activation]="batch=64 channels=6 height=28 width=28 kind=relu"
  [lrn]="batch=32 channels=32 height=16 width=16 kind=inter_channel"
  [fully_connected]="batch=64 channels=16 height=5 width=5 out_features=120"
  [loss]="batch=64 channels=10 kind=softmax_cross_entropy"
)
plugin_dir=$(dirname "$(find /usr/lib -name 'libautoschedule_mullapudi2016.so' | head -1)")
schedules=${SCHEDULES:-"naive cpu cuda mullapudi2016 li2018 adams2019"}
printf "%-16s" "layer"; for s in $schedules; do printf "%16s" "$s"; done; echo
for layer in conv2d pool2d activation lrn fully_connected loss; do
  printf "%-16s" "$layer"
  for s in $schedules; do
    target=host; extra=()
    case $s in
      cuda) target=host-cuda-cuda_capability_80 ;;
      mullapudi2016) extra=(-p "$plugin_dir/libautoschedule_mullapudi2016.so" -s Mullapudi2016 auto_schedule=true) ;;
      li2018) extra=(-p "$plugin_dir/libautoschedule_li2018.so" -s Li2018 auto_schedule=true) ;;
      adams2019) extra=(-p "$plugin_dir/libautoschedule_adams2019.so" -s Adams2019 auto_schedule=true) ;;
    esac
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    if timeout 300 "$generator" -g "$layer" -o "$work" -e static_library,h target=$target schedule=$s \
        machine_params=$cores,8388608,40 "${extra[@]}" ${params[$layer]} >"$work/log" 2>&1; then
      printf "%15.1fs" "$(echo "$(date +%s.%N) - $start" | bc)"
    else
      printf "%16s" "FAILED"
      grep -m1 -E "Error|error" "$work/log" | cut -c1-100 >"$work/$layer-$s.err"
    fi
  done
  echo
done
for f in "$work"/*.err; do [[ -e $f ]] && echo "$(basename "$f" .err): $(cat "$f")"; done
