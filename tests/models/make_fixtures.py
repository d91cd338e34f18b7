#!/usr/bin/python3
"""Writes test fixtures with numpy, independently of cnngen's own .npy and IDX code:
random weights for each model (one .npy per state_dict key), input batches, and
deliberately broken weights, arrays and IDX files for the bad-input tests.

usage: make_fixtures.py OUT_DIR
"""
import gzip
import os
import struct
import sys

import numpy as np

LENET5 = {
    "conv1.weight": (6, 1, 5, 5), "conv1.bias": (6,),
    "conv2.weight": (16, 6, 5, 5), "conv2.bias": (16,),
    "fc1.weight": (120, 400), "fc1.bias": (120,),
    "fc2.weight": (84, 120), "fc2.bias": (84,),
    "fc3.weight": (10, 84), "fc3.bias": (10,),
}
ALEXNET_SMALL = {
    "conv1.weight": (32, 3, 5, 5), "conv1.bias": (32,),
    "conv2.weight": (64, 32, 3, 3), "conv2.bias": (64,),
    "conv3.weight": (96, 32, 3, 3), "conv3.bias": (96,),
    "fc1.weight": (256, 864), "fc1.bias": (256,),
    "fc2.weight": (10, 256), "fc2.bias": (10,),
}


def write_weights(directory, shapes, rng):
    os.makedirs(directory, exist_ok=True)
    for key, shape in shapes.items():
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 16
        bound = 1.0 / np.sqrt(fan_in)
        np.save(os.path.join(directory, f"{key}.npy"), rng.uniform(-bound, bound, shape).astype(np.float32))


def copy_weights(source, target, skip=()):
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(source):
        if name not in skip:
            np.save(os.path.join(target, name), np.load(os.path.join(source, name)))


def write_idx(path, magic, dims, payload, compress=False):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims)
    data = header + payload
    with (gzip.open(path, "wb") if compress else open(path, "wb")) as f:
        f.write(data)


def main(out):
    rng = np.random.default_rng(2024)
    write_weights(f"{out}/lenet5_weights", LENET5, rng)
    write_weights(f"{out}/alexnet_small_weights", ALEXNET_SMALL, rng)
    for n in (1, 3, 64, 70):
        np.save(f"{out}/lenet5_input_{n}.npy", rng.uniform(0, 1, (n, 1, 28, 28)).astype(np.float32))
    for n in (1, 5, 32):
        np.save(f"{out}/alexnet_small_input_{n}.npy", rng.uniform(-1, 1, (n, 3, 32, 32)).astype(np.float32))

    bad = f"{out}/bad"
    os.makedirs(bad, exist_ok=True)
    weights = f"{out}/lenet5_weights"
    copy_weights(weights, f"{bad}/missing_tensor", skip=("fc3.bias.npy",))
    copy_weights(weights, f"{bad}/extra_tensor")
    np.save(f"{bad}/extra_tensor/fc4.weight.npy", np.zeros((3, 3), np.float32))
    copy_weights(weights, f"{bad}/wrong_shape")
    np.save(f"{bad}/wrong_shape/conv1.weight.npy", np.zeros((6, 1, 3, 3), np.float32))
    copy_weights(weights, f"{bad}/wrong_dtype")
    np.save(f"{bad}/wrong_dtype/fc1.bias.npy", np.zeros((120,), np.float64))
    copy_weights(weights, f"{bad}/fortran_order")
    np.save(f"{bad}/fortran_order/fc1.weight.npy", np.asfortranarray(np.ones((120, 400), np.float32)))
    copy_weights(weights, f"{bad}/truncated_npy")
    with open(f"{bad}/truncated_npy/fc2.weight.npy", "r+b") as f:
        f.truncate(200)
    np.save(f"{bad}/input_wrong_shape.npy", np.zeros((2, 1, 32, 32), np.float32))

    images = rng.integers(0, 256, (100, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 100, dtype=np.uint8)
    write_idx(f"{bad}/good-images-idx3-ubyte.gz", 0x803, (100, 28, 28), images.tobytes(), compress=True)
    write_idx(f"{bad}/bad_magic-images-idx3-ubyte", 0x802, (100, 28, 28), images.tobytes())
    write_idx(f"{bad}/truncated-images-idx3-ubyte", 0x803, (100, 28, 28), images.tobytes()[:5000])
    write_idx(f"{bad}/count-images-idx3-ubyte", 0x803, (100, 28, 28), images.tobytes())
    write_idx(f"{bad}/count-labels-idx1-ubyte", 0x801, (99,), labels[:99].tobytes())

    # Training sets in MNIST layout: one with a label out of range, one smaller than a batch,
    # and a small valid one (10 steps an epoch) for the crash test.
    for name, count, label_values in (("labels_out_of_range", 200, None), ("tiny", 10, None), ("small", 640, None)):
        d = f"{bad}/{name}"
        os.makedirs(d, exist_ok=True)
        imgs = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labs = rng.integers(0, 10, count, dtype=np.uint8)
        if name == "labels_out_of_range":
            labs[150] = 12
        for split in ("train", "t10k"):
            write_idx(f"{d}/{split}-images-idx3-ubyte", 0x803, (count, 28, 28), imgs.tobytes())
            write_idx(f"{d}/{split}-labels-idx1-ubyte", 0x801, (count,), labs.tobytes())
    d = f"{bad}/wrong_image_size"
    os.makedirs(d, exist_ok=True)
    write_idx(f"{d}/train-images-idx3-ubyte", 0x803, (100, 32, 32), rng.integers(0, 256, 100 * 32 * 32, dtype=np.uint8).tobytes())
    write_idx(f"{d}/train-labels-idx1-ubyte", 0x801, (100,), labels.tobytes())


if __name__ == "__main__":
    main(sys.argv[1])
