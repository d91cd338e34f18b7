#!/usr/bin/env bash
# installed_example_test.sh BUILD_DIR SOURCE_DIR WORK_DIR WEIGHTS IMAGES
# Installs cnngen into a fresh prefix and builds examples/classify against it in a clean
# directory, exactly as a user would, then runs it.
set -euo pipefail
build=$1 source=$2 work=$3 weights=$4 images=$5
rm -rf "$work" && mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$source/examples/classify" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 1; }
"$work/build/classify" "$weights" "$images"
