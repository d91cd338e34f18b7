#!/usr/bin/env bash
# README's main job (scripts/run.sh) from a fresh clone, where no test-only package can be seen:
# a private mount namespace hides ONNX's test data, PyTorch, torchvision, the ONNX and NumPy
# Python packages, Catch2, pocl's ICD, qemu-aarch64, clang-14 and the aarch64 cross compiler
# behind empty directories and non-executable empty files, whether they are installed or not.
# Passes when the job prints a test accuracy. Usage: [EPOCHS=N] .ci/main_job_without_test_packages.sh (1)
# The clone is temporary, beside the repository where its parent is writable (else under /tmp).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/cnngen-main-job.XXXXXX)
clone=""
trap 'rm -rf "$work" ${clone:+"$clone"}' EXIT
# The clone sits beside the repository where it can: its build directory is then as deep as the
# repository's build-ci, so the paths a compiler cache rewrites relative to it (.ci/run's
# CCACHE_BASEDIR) match, and the test build reuses what this build compiled.
clone=$(mktemp -d "$(dirname "$repo")/cnngen-main-job.XXXXXX" 2>/dev/null) || clone=$(mktemp -d "$work/clone.XXXXXX")
git clone --quiet "$repo" "$clone"
mkdir "$work/empty-dir"
touch "$work/empty-file"  # mode 644: find_program does not take it
hidden_dirs=(/usr/share/libonnx-testdata /usr/lib/python3/dist-packages/torch /usr/lib/python3/dist-packages/torchvision
             /usr/lib/python3/dist-packages/onnx /usr/lib/python3/dist-packages/numpy /usr/lib/cmake/Catch2
             /etc/OpenCL/vendors)
hidden_files=(/usr/bin/qemu-aarch64 /usr/lib/llvm-14/bin/clang /usr/bin/aarch64-linux-gnu-g++-12
              /usr/bin/aarch64-linux-gnu-gcc-12)
log=$work/main-job.log
# shellcheck disable=SC2016  # expanded inside the namespace
in_namespace='
  set -euo pipefail
  work=$1 clone=$2; shift 2
  while [[ $1 != -- ]]; do
    if [[ -d $1 ]]; then mount --bind "$work/empty-dir" "$1"; echo "hidden: $1"
    elif [[ -e $1 ]]; then mount --bind "$work/empty-file" "$1"; echo "hidden: $1"; fi
    shift
  done
  cd "$clone"
  EPOCHS=${EPOCHS:-1} OUT="$work/out" scripts/run.sh
'
# Without mount namespaces (a container lacking CAP_SYS_ADMIN) nothing can be hidden: then the
# job runs as it is, which proves the point only where no test package is installed yet (CI's
# first step on a fresh machine).
isolate=(unshare --mount --propagation private)
if ! unshare --mount true 2>/dev/null; then
  echo "main job: no mount namespace here (unshare --mount failed); the test packages are not hidden" >&2
  isolate=()
  in_namespace=${in_namespace//mount --bind/true}
  in_namespace=${in_namespace//hidden: /not hidden: }
fi
if ! "${isolate[@]}" bash -c "$in_namespace" hide "$work" "$clone" "${hidden_dirs[@]}" "${hidden_files[@]}" -- \
     2>&1 | tee "$log"; then
  echo "main job without test packages: FAILED" >&2
  exit 1
fi
if ! grep -Eq "accuracy[^0-9]*[0-9]+\.[0-9]+%" "$log"; then
  echo "main job without test packages: FAILED (no accuracy printed)" >&2
  exit 1
fi
echo "main job without test packages: passed ($(grep -Eo "accuracy[^0-9]*[0-9]+\.[0-9]+%[^,]*" "$log" | tail -1))"
