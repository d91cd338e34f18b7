#!/usr/bin/env bash
# installed_example_test.sh BUILD_DIR SOURCE_DIR WORK_DIR WEIGHTS IMAGES
# Installs cnngen into a fresh prefix and builds examples/classify and examples/serve (worker
# threads sharing one model) against it in clean directories, exactly as a user would, then
# runs them.
set -euo pipefail
build=$1 source=$2 work=$3 weights=$4 images=$5
rm -rf "$work" && mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
for example in classify serve; do
  cmake -S "$source/examples/$example" -B "$work/$example" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
  cmake --build "$work/$example" >"$work/$example.log" 2>&1 || { tail -30 "$work/$example.log"; exit 1; }
done
"$work/classify/classify" "$weights" "$images"
"$work/serve/serve" "$weights" "$images" 4
