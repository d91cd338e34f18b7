#!/usr/bin/env bash
# The main job: build cnngen, generate a LeNet-5 binary tuned for this host, train it on
# Fashion-MNIST, classify the test images and print accuracy and speed.
# Usage: scripts/run.sh   (EPOCHS, SCHEDULE, TARGET and OUT override the defaults; SCHEDULE is
# a built-in name or a schedule file, by default the one beside the spec: LeNet-5's fused CPU schedule)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
out=${OUT:-$root/out}
data=/usr/share/datasets/fashion-mnist
"$root/scripts/install-deps.sh"
# Without the tests: configuring needs only the packages installed above.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCNNGEN_TESTS=OFF >/dev/null
cmake --build "$build" --target cnngen
started=$(date +%s)
# No --schedule unless SCHEDULE is set: cnngen picks models/lenet5.schedule.toml, kept beside the spec.
"$build/generators/cnngen" build "$root/models/lenet5.toml" --target "${TARGET:-host}" ${SCHEDULE:+--schedule "$SCHEDULE"} \
  -o "$out/lenet5"
# SGD as in PyTorch's usual recipe (lr 0.01, momentum 0.9, batch 64); the learning rate
# drops tenfold after 8 epochs (7496 updates), worth about a point of test accuracy.
"$out/lenet5/lenet5" train --data "$data" --epochs "${EPOCHS:-10}" --lr 0.01 --momentum 0.9 --seed 1 \
  --lr-policy step --lr-stepsize 7496 --lr-gamma 0.1 --out "$out/checkpoints/lenet5"
"$out/lenet5/lenet5" predict --weights "$out/checkpoints/lenet5" --input "$data/t10k-images-idx3-ubyte.gz" \
  --logits "$out/t10k-logits.npy"
"$out/lenet5/lenet5" bench
echo "main job: $(( $(date +%s) - started )) s from generation to benchmark"
