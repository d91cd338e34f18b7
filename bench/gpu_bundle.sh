#!/usr/bin/env bash
# gpu_bundle.sh CNNGEN DIR: everything a GPU machine without Halide or Debian's packages needs to
# check and time the CUDA builds (../shared/GPU-MACHINE.md). DIR must be a folder directly inside
# this repository (run.sh reads ../bench); carry it with the tree. It holds LeNet-5,
# LeNet-5-classic and AlexNet-small built for CUDA and for the CPU (AVX2, which that machine's
# processor runs; --no-mpi, since it has no MPI), the CPU builds' verify values, libfmt,
# Fashion-MNIST, and DIR/run.sh, which runs there: verify against the CPU values; the CUDA tests
# when copied in (build/tests/test_gpu_layers_cuda and test_gpu_models_cuda, built for this
# host, so only where the processors match: the lent H100's Xeon ran this project's AVX-512
# ones); MODEL bench on both builds beside PyTorch on the GPU (bench/pytorch_models.py --device
# cuda); one epoch of LeNet-5 training.
set -euo pipefail
cnngen=$1 dir=$2
root=$(cd "$(dirname "$0")/.." && pwd)
cpu=x86-64-linux-avx2-fma
mkdir -p "$dir/lib" "$dir/data"
for spec in lenet5 lenet5-classic alexnet-small; do
  name=${spec//-/_}
  "$cnngen" build "$root/models/$spec.toml" --target $cpu-cuda-cuda_capability_80 --schedule gpu --name "$name" \
    -o "$dir/$name-cuda" --no-mpi | tail -1
  "$cnngen" build "$root/models/$spec.toml" --target $cpu --schedule cpu --name "$name" -o "$dir/$name-cpu" --no-mpi | tail -1
  "$dir/$name-cpu/$name" verify --write "$dir/ref-$name" | tail -1
done
cp -L "$(ldconfig -p | grep -m1 -o '/.*libfmt.so.9')" "$dir/lib/"
cp /usr/share/datasets/fashion-mnist/*.gz "$dir/data/"
cat >"$dir/run.sh" <<'RUN'
#!/usr/bin/env bash
cd "$(dirname "$0")"
export LD_LIBRARY_PATH=$PWD/lib:${LD_LIBRARY_PATH:-}
models="lenet5 lenet5_classic alexnet_small"
lscpu | grep -E "Model name|^CPU\(s\)"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv
for m in $models; do ./$m-cuda/$m info | head -2; ./$m-cuda/$m verify --against ref-$m | tail -1; done
if [[ -x test_gpu_layers_cuda ]]; then
  ./test_gpu_layers_cuda >layers.txt 2>&1; echo "gpu layer tests exit $?"; tail -3 layers.txt
fi
if [[ -x test_gpu_models_cuda ]]; then  # the gpu_cuda_* ctests
  for c in lenet5 lenet5_chained; do
    CNNGEN_REQUIRE_GPU=cuda ./test_gpu_models_cuda $c >case.txt 2>&1; echo "gpu_cuda_$c exit $?"; tail -2 case.txt
  done
fi
for m in $models; do
  ./$m-cuda/$m bench --seconds 1; ./$m-cpu/$m bench --seconds 1 | head -6
  python3 ../bench/pytorch_models.py --model $m --device cuda --batches 1,64,256 --seconds 1 | tail -4
done
./lenet5-cuda/lenet5 train --data data --epochs 1 --seed 1 --quiet --out /tmp/ckpt | grep "^epoch"
RUN
chmod +x "$dir/run.sh"
echo "bundle in $dir: carry it to the GPU machine and run $dir/run.sh there"
