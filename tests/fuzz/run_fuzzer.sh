#!/usr/bin/env bash
# run_fuzzer.sh build SOURCE_DIR WORK_DIR
#   Builds the four libFuzzer targets (npy, idx, spec, onnx) with clang, ASan and UBSan into
#   WORK_DIR: each source compiled once (spec and onnx share most of theirs), nproc at a time.
# run_fuzzer.sh run TARGET SECONDS SOURCE_DIR WORK_DIR
#   Runs one built target for SECONDS from the seed corpus in tests/fuzz/corpus/TARGET, and
#   prints runs and crashes.
set -euo pipefail
mode=${1:-}; shift || true
if [[ $mode == run ]]; then
  target=$1 seconds=$2 src=$3 work=$4
  binary=$work/fuzz_$target
  [[ -x $binary ]] || { echo "$binary is missing: the fuzz_build test builds it"; exit 1; }
  mkdir -p "$work/corpus-$target"
  export ASAN_OPTIONS=detect_leaks=0
  # The spec fuzzer calls into Halide, which is not instrumented; keep its inputs small.
  "$binary" -artifact_prefix="$work/" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=4096 \
    "$work/corpus-$target" "$src/tests/fuzz/corpus/$target" 2>"$work/fuzz_$target.log" || {
    tail -40 "$work/fuzz_$target.log"; exit 1; }
  grep -E "^Done [0-9]+ runs" "$work/fuzz_$target.log" | sed "s/^/fuzz_$target: /"
  echo "fuzz_$target: no crashes"
  exit 0
fi
[[ $mode == build ]] || { echo "usage: run_fuzzer.sh build SOURCE_DIR WORK_DIR | run TARGET SECONDS SOURCE_DIR WORK_DIR"; exit 2; }
src=$1 work=$2
# NDEBUG as in release builds: toml++ asserts on some malformed keys in debug builds only. The
# ONNX defines only matter to the files that include ONNX's headers.
export CXX_FLAGS="-std=c++17 -g -O1 -DNDEBUG -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
  -I$src/runtime/include -I$src/generators -I/usr/include/halide14 -DONNX_NAMESPACE=onnx -DONNX_ML=1"
link_flags="-fsanitize=fuzzer,address,undefined"
npy="runtime/src/npy.cpp runtime/src/atomic_file.cpp"
model="generators/model/spec.cpp generators/model/plan.cpp generators/training/differentiable_forms.cpp
       $(cd "$src" && ls generators/layers/*.cpp | tr '\n' ' ')"
declare -A sources=(
  [npy]="$npy"
  [idx]="runtime/src/idx.cpp"
  [spec]="$model"
  [onnx]="generators/onnx/onnx_file.cpp generators/onnx/onnx_import.cpp generators/model/spec_writer.cpp $model $npy")
declare -A libs=([npy]="-lfmt" [idx]="-lfmt -lz" [spec]="-lHalide14 -ltomlplusplus -lfmt"
                 [onnx]="-lHalide14 -ltomlplusplus -lfmt -lonnx_proto -lprotobuf")
object() { local o=${1//\//_}; echo "$work/objects/${o%.cpp}.o"; }
mkdir -p "$work/objects"
# Every source once, the targets' mains included.
# shellcheck disable=SC2086,SC2048,SC2016  # CXX_FLAGS splits in the inner sh
printf '%s\n' ${sources[*]} tests/fuzz/fuzz_{npy,idx,spec,onnx}.cpp | sort -u |
  while read -r s; do printf '%s\n%s\n' "$src/$s" "$(object "$s")"; done |
  xargs -d '\n' -n 2 -P "$(nproc)" sh -c 'exec clang++-14 $CXX_FLAGS -c "$0" -o "$1"'
for target in npy idx spec onnx; do
  objects=$(object "tests/fuzz/fuzz_$target.cpp")
  for s in ${sources[$target]}; do objects+=" $(object "$s")"; done
  # shellcheck disable=SC2086
  clang++-14 $link_flags $objects ${libs[$target]} -o "$work/fuzz_$target"
  echo "built $work/fuzz_$target"
done
