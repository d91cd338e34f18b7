#!/usr/bin/env bash
# run_fuzzer.sh TARGET SECONDS SOURCE_DIR WORK_DIR
# Builds one libFuzzer target (npy, idx, spec or onnx) with clang, ASan and UBSan, runs it for
# SECONDS from the seed corpus in tests/fuzz/corpus/TARGET, and prints runs and crashes.
set -euo pipefail
target=$1 seconds=$2 src=$3 work=$4
mkdir -p "$work/corpus-$target"
# NDEBUG as in release builds: toml++ asserts on some malformed keys in debug builds only.
cxx="clang++-14 -std=c++17 -g -O1 -DNDEBUG -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
includes="-I$src/runtime/include -I$src/generators -I/usr/include/halide14"
case $target in
  npy) sources="$src/runtime/src/npy.cpp $src/runtime/src/atomic_file.cpp"; libs="-lfmt" ;;
  idx) sources="$src/runtime/src/idx.cpp"; libs="-lfmt -lz" ;;
  spec) sources="$src/generators/model/spec.cpp $src/generators/model/plan.cpp $src/generators/training/differentiable_forms.cpp $(ls "$src"/generators/layers/*.cpp | tr '\n' ' ')"
        libs="-lHalide14 -ltomlplusplus -lfmt" ;;
  onnx) sources="$src/generators/onnx/onnx_file.cpp $src/generators/onnx/onnx_import.cpp $src/generators/model/spec.cpp
        $src/generators/model/spec_writer.cpp $src/generators/model/plan.cpp
        $src/generators/training/differentiable_forms.cpp $src/runtime/src/npy.cpp $src/runtime/src/atomic_file.cpp
        $(ls "$src"/generators/layers/*.cpp | tr '\n' ' ')"
        includes="$includes -DONNX_NAMESPACE=onnx -DONNX_ML=1"
        libs="-lHalide14 -ltomlplusplus -lfmt -lonnx_proto -lprotobuf" ;;
  *) echo "unknown fuzz target $target"; exit 2 ;;
esac
binary=$work/fuzz_$target
# shellcheck disable=SC2086
$cxx $includes "$src/tests/fuzz/fuzz_$target.cpp" $sources $libs -o "$binary"
export ASAN_OPTIONS=detect_leaks=0
# The spec fuzzer calls into Halide, which is not instrumented; keep its inputs small.
"$binary" -artifact_prefix="$work/" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=4096 \
  "$work/corpus-$target" "$src/tests/fuzz/corpus/$target" 2>"$work/fuzz_$target.log" || {
  tail -40 "$work/fuzz_$target.log"; exit 1; }
grep -E "^Done [0-9]+ runs" "$work/fuzz_$target.log" | sed "s/^/fuzz_$target: /"
echo "fuzz_$target: no crashes"
