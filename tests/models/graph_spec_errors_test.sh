#!/usr/bin/env bash
# Graph specs that cannot be built: each `cnngen build` exits 1 with a message naming the
# layers, and writes nothing (neither the output directory nor a .partial one).
# Usage: graph_spec_errors_test.sh CNNGEN SPECS_DIR WORK_DIR
set -uo pipefail
cnngen=$1 specs=$2 work=$3
rm -rf "$work" && mkdir -p "$work/out"
failed=0
expect() {
  local spec=$1 pattern=$2 out="$work/out/$1"
  "$cnngen" build "$specs/$spec.toml" -o "$out" >"$work/$spec.log" 2>&1
  local status=$?
  echo "$spec: exit $status: $(cat "$work/$spec.log")"
  if ((status != 1)); then echo "FAIL: $spec exited $status, expected 1"; failed=1; fi
  if ! grep -Eq "$pattern" "$work/$spec.log"; then echo "FAIL: $spec: no match for: $pattern"; failed=1; fi
  if compgen -G "$out*" >/dev/null; then echo "FAIL: $spec wrote $(compgen -G "$out*")"; failed=1; fi
}
expect graph_cycle "layers form a cycle: 'conv1' reads 'add1', 'add1' reads 'conv1'"
expect graph_unknown "layer 'add1' \(#2\): input 'conv9' is not a layer of this model"
expect graph_addshape "layer 'add1' \(#2\).*add needs inputs of one shape, but 'conv1' gives 1x4x6x6 and 'input' gives 1x1x8x8"
expect graph_catshape "layer 'cat' \(#2\).*concat joins along the channels.*'conv1' gives 1x4x6x6 and 'input' gives 1x1x8x8"
expect graph_dangling "the output of layer 'side' \(#2\) is never read: a dangling branch.*'fc' \(the model's output\)"
exit $failed
