#!/usr/bin/env bash
# Cross-builds LeNet-5 for arm-64-linux, runs the aarch64 executable under qemu-user and
# compares its logits with the host executable's on the same weights and images.
# Usage: cross_aarch64_test.sh CNNGEN SPEC HOST_EXECUTABLE FIXTURES_DIR WORK_DIR
set -euo pipefail
cnngen=$1 spec=$2 host_exe=$3 fixtures=$4 work=$5
rm -rf "$work" && mkdir -p "$work"
"$cnngen" build "$spec" --target arm-64-linux --inference-only -o "$work/arm"
machine=$(readelf -h "$work/arm/lenet5" | sed -n 's/^ *Machine: *//p')
[[ $machine == AArch64 ]] || { echo "FAILED: $work/arm/lenet5 is built for '$machine', expected AArch64"; exit 1; }
predict=(predict --weights "$fixtures/lenet5_weights" --input "$fixtures/lenet5_input_70.npy")
# qemu-user 7.2 here hangs when a guest creates a thread (a bare std::thread program does
# too), so Halide runs single-threaded under emulation.
HL_NUM_THREADS=1 timeout 300 qemu-aarch64 -L /usr/aarch64-linux-gnu "$work/arm/lenet5" "${predict[@]}" \
  --logits "$work/arm_logits.npy"
"$host_exe" "${predict[@]}" --logits "$work/host_logits.npy"
/usr/bin/python3 - "$work" <<'PY'
import sys, numpy as np
work = sys.argv[1]
arm, host = np.load(f"{work}/arm_logits.npy"), np.load(f"{work}/host_logits.npy")
error = float(np.abs(arm - host).max())
print(f"aarch64 vs host logits {arm.shape}: max abs difference {error:.3g} (limit 1e-5), max |logit| {np.abs(host).max():.3g}")
sys.exit(0 if arm.shape == host.shape and error <= 1e-5 else 1)
PY
