#!/usr/bin/env bash
# mpi_data_parallel_test.sh MPIRUN DATA_PARALLEL_EXE SINGLE_EXE DATA_DIR WORK_DIR PYTHON [opencl]
# Two ranks training with batch 32 each give the weights and velocities of one process training
# with batch 64 (within 1e-5), and say all ranks ended with identical weights; a run stopped
# and resumed from rank 0's checkpoint gives bitwise the uninterrupted run; a global batch that
# is not 2 x 32 is refused. `opencl`: the ranks run an OpenCL build (skipped, exit 77, without a
# device unless CNNGEN_REQUIRE_GPU=opencl).
set -euo pipefail
mpirun=$1 ranks_exe=$2 single_exe=$3 data=$4 work=$5 python=$6 api=${7:-}
rm -rf "$work" && mkdir -p "$work"
if [[ $api == opencl ]] && "$ranks_exe" info | grep -q "^device: opencl: no "; then
  [[ ${CNNGEN_REQUIRE_GPU:-} == opencl ]] && { echo "CNNGEN_REQUIRE_GPU=opencl but there is no device"; exit 1; }
  echo "no OpenCL device: skipped"; exit 77
fi
two_ranks=("$mpirun" --allow-run-as-root --oversubscribe -np 2 "$ranks_exe" --threads 1 train)
common=(--data "$data" --epochs 100 --seed 5 --lr 0.05 --momentum 0.9 --weight-decay 1e-4 --quiet)

"$single_exe" --threads 1 train "${common[@]}" --batch 64 --max-steps 20 --out "$work/one_process" >"$work/one.txt"
"${two_ranks[@]}" "${common[@]}" --batch 64 --max-steps 20 --out "$work/two_ranks" >"$work/two.txt" 2>&1 ||
  { cat "$work/two.txt"; exit 1; }
grep -q "training on 2 processes: global batch 64, 32 per process" "$work/two.txt"
grep -q "weights identical on all 2 processes" "$work/two.txt" || { cat "$work/two.txt"; exit 1; }
grep -q "step=20" "$work/two_ranks/state.txt"
"$python" - "$work/one_process" "$work/two_ranks" <<'PY'
import glob, os, sys
import numpy as np
one, two = sys.argv[1:3]
files = sorted(glob.glob(one + "/*.npy") + glob.glob(one + "/optimizer/*.npy"))
assert len(files) == 20, files
largest = max(float(np.abs(np.load(f) - np.load(two + f[len(one):])).max()) for f in files)
moved = max(float(np.abs(np.load(f)).max()) for f in glob.glob(one + "/optimizer/*.npy"))
print(f"2 ranks x 32 vs 1 process x 64 after 20 steps: largest difference {largest:.3g} over {len(files)} tensors")
assert moved > 1e-3, "the velocities did not move: nothing was trained"
assert largest <= 1e-5, largest
PY

# Rank 0's checkpoint after 10 steps, then all ranks resume from it to step 20.
"${two_ranks[@]}" "${common[@]}" --max-steps 10 --out "$work/first_half" >/dev/null 2>&1
"${two_ranks[@]}" "${common[@]}" --max-steps 20 --resume "$work/first_half" --out "$work/resumed" >"$work/resumed.txt" 2>&1
grep -q "resumed from $work/first_half at step 10" "$work/resumed.txt"
for f in "$work/two_ranks"/*.npy "$work/two_ranks"/optimizer/*.npy; do
  cmp -s "$f" "$work/resumed/${f#"$work/two_ranks"/}" || { echo "resumed run differs: $f"; exit 1; }
done
echo "resumed from rank 0's checkpoint at step 10: bitwise the uninterrupted run"

if "${two_ranks[@]}" "${common[@]}" --batch 48 >"$work/bad_batch.txt" 2>&1; then
  echo "--batch 48 over 2 ranks of 32 was accepted"; exit 1
fi
grep -q "the global batch is 2 x 32 = 64; for 48 rebuild with cnngen build --train-batch 24" "$work/bad_batch.txt" ||
  { cat "$work/bad_batch.txt"; exit 1; }
echo "--batch 48 refused"

# A checkpoint resumes only with its global batch: its step counts updates of that batch.
if "$ranks_exe" --threads 1 train "${common[@]}" --resume "$work/two_ranks" >"$work/other_batch.txt" 2>&1; then
  echo "a batch-64 checkpoint resumed at batch 32"; exit 1
fi
grep -q "trained with a global batch of 64, this run's is 32" "$work/other_batch.txt" || { cat "$work/other_batch.txt"; exit 1; }
echo "resuming with another global batch refused"

# Every rank must have the same data, or their steps (and collectives) would not pair up.
"$python" - "$data" "$work/half_data" <<'PY'
import os, struct, sys
source, target = sys.argv[1:3]
os.makedirs(target)
for name, header in (("train-images-idx3-ubyte", 16), ("train-labels-idx1-ubyte", 8)):
    raw = open(os.path.join(source, name), "rb").read()
    count = struct.unpack(">I", raw[4:8])[0]
    item = (len(raw) - header) // count
    open(os.path.join(target, name), "wb").write(raw[:4] + struct.pack(">I", count // 2) + raw[8:header]
                                                 + raw[header:header + item * (count // 2)])
PY
if "$mpirun" --allow-run-as-root --oversubscribe -np 2 sh -c \
    'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then d=$1; else d=$2; fi; shift 2; exec "$@" --data "$d"' \
    sh "$work/half_data" "$data" "$ranks_exe" --threads 1 train --quiet >"$work/other_data.txt" 2>&1; then
  echo "ranks with different data were accepted"; exit 1
fi
grep -q "error: rank 1 of 2: $work/half_data: 320 training images here, 640 on rank 0" "$work/other_data.txt" ||
  { cat "$work/other_data.txt"; exit 1; }
echo "different data on rank 1 refused"
