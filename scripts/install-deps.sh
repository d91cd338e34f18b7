#!/usr/bin/env bash
# Installs the Debian 12 packages cnngen needs that are not already present.
# Usage: scripts/install-deps.sh [--with-torch] [--with-ort] [--tests]
#   --with-torch  PyTorch and torchvision (VGG-16), for benchmarks and cross-checks only; `time`,
#                 for the benchmark's build and memory figures
#   --with-ort    node and npm, to fetch ONNX Runtime (onnxruntime-node) for the benchmark only
#   --tests       Catch2 and NumPy (the test programs and fixtures); clang and its libFuzzer/sanitizer runtimes, for the fuzz tests; the aarch64
#                 cross compiler, arm64 libraries and qemu-user, for the cross-build test; pocl
#                 (OpenCL on the CPU) and the OpenCL loader, to run the GPU schedules anywhere;
#                 PyTorch and torchvision, the references of the real-size models; ONNX's backend
#                 tests (libonnx-testdata) and python3-onnx, for the ONNX import and export tests
set -euo pipefail
# The main job's packages: what building cnngen, generating, training and predicting need.
packages=(build-essential cmake ninja-build pkg-config libhalide14-0-dev llvm-14-dev libfmt-dev
          libcli11-dev libtomlplusplus-dev zlib1g-dev libonnx-dev libprotobuf-dev dataset-fashion-mnist gnuplot-nox
          libopenmpi-dev openmpi-bin)
for flag in "$@"; do
  case $flag in
    --with-torch) packages+=(python3-torch python3-torchvision time) ;;
    --with-ort) command -v npm >/dev/null || packages+=(nodejs npm) ;;  # a node that bundles npm will do
    --tests) packages+=(catch2 python3-numpy clang-14 libclang-rt-14-dev g++-aarch64-linux-gnu qemu-user libfmt-dev:arm64 zlib1g-dev:arm64
                        pocl-opencl-icd ocl-icd-opencl-dev python3-torch python3-torchvision libonnx-testdata
                        python3-onnx) ;;
    *) echo "install-deps.sh: unknown flag $flag" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  if [[ " ${missing[*]}" == *":arm64"* ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64
  fi
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
