#!/usr/bin/env bash
# mpi_kill_test.sh MPIRUN DATA_PARALLEL_EXE DATA_DIR WORK_DIR
# SIGKILL to rank 1 of a 2-rank run once rank 0 has written a checkpoint: the job ends with a
# non-zero exit, Open MPI names the dead rank, rank 0 says where its last checkpoint is, and
# that checkpoint loads in predict and resumes on 2 ranks.
set -euo pipefail
mpirun=$1 exe=$2 data=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
launch=("$mpirun" --allow-run-as-root --oversubscribe -np 2)
# Each rank records its PID before it becomes the trainer.
"${launch[@]}" sh -c 'echo $$ >"$0/pid.$OMPI_COMM_WORLD_RANK"; exec "$@"' "$work" \
  "$exe" --threads 1 train --data "$data" --epochs 1000000 --out "$work/ckpt" --quiet >"$work/out.txt" 2>&1 &
job=$!
# Waits for events, not times: a loaded machine only makes this slower.
until [[ -e $work/ckpt/state.txt && -s $work/pid.1 ]]; do
  kill -0 "$job" 2>/dev/null || { echo "the job ended before its first checkpoint:"; cat "$work/out.txt"; exit 1; }
  sleep 0.05
done
kill -KILL "$(cat "$work/pid.1")"
status=0
wait "$job" || status=$?
cat "$work/out.txt" | grep -v "^epoch" || true
[[ $status -ne 0 ]] || { echo "mpirun exited 0 after a rank was killed"; exit 1; }
grep -q "process rank 1 .*exited on signal 9" "$work/out.txt" || { echo "Open MPI did not name rank 1"; exit 1; }
grep -Eq "rank 0 of 2: stopped .*the last checkpoint, $work/ckpt, holds step [0-9]+" "$work/out.txt" ||
  { echo "rank 0 did not say where its last checkpoint is"; exit 1; }
step=$(grep -o 'step=[0-9]*' "$work/ckpt/state.txt" | cut -d= -f2)
"$exe" predict --weights "$work/ckpt" --input "$data/t10k-images-idx3-ubyte" | grep "accuracy:"
"${launch[@]}" "$exe" --threads 1 train --data "$data" --epochs 1000000 --resume "$work/ckpt" \
  --max-steps $((step + 10)) --out "$work/resumed" --quiet | grep "resumed from $work/ckpt at step $step"
grep -q "step=$((step + 10))" "$work/resumed/state.txt"
echo "exit $status after rank 1 was killed; the checkpoint at step $step loads and resumes"
