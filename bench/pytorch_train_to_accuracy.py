#!/usr/bin/python3
"""PyTorch's side of the bench's time-to-accuracy row: LeNet-5 (bench/pytorch_models.py) trained
on Fashion-MNIST with the recipe `lenet5 train --until-accuracy` gets in bench/run.sh (SGD lr 0.01,
momentum 0.9, batch 64, pixels / 255, shuffled each epoch), test accuracy after each epoch,
stopping at the first epoch that reaches the target. The caller times the whole process.

usage: pytorch_train_to_accuracy.py DATA_DIR TARGET_PERCENT THREADS MAX_EPOCHS
"""
import gzip
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from pytorch_models import LeNet5


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(directory, split):
    def find(name):
        path = os.path.join(directory, name)
        return path if os.path.exists(path) else path + ".gz"
    images = read_idx(find(f"{split}-images-idx3-ubyte")).astype(np.float32) / 255.0
    labels = read_idx(find(f"{split}-labels-idx1-ubyte")).astype(np.int64)
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels)


def main():
    directory, target, threads, max_epochs = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    train_x, train_y = load(directory, "train")
    test_x, test_y = load(directory, "t10k")
    model = LeNet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batch = 64
    for epoch in range(1, max_epochs + 1):
        model.train()
        order = torch.randperm(len(train_x))
        for start in range(0, len(order) - batch + 1, batch):
            index = order[start:start + batch]
            optimizer.zero_grad()
            F.cross_entropy(model(train_x[index]), train_y[index]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(test_x[k:k + 1000]).argmax(1) == test_y[k:k + 1000]).sum())
                          for k in range(0, len(test_x), 1000))
        accuracy = 100.0 * correct / len(test_x)
        print(f"epoch {epoch}: test accuracy {accuracy:.2f}%", flush=True)
        if accuracy >= target:
            print(f"reached {accuracy:.2f}% test accuracy (target {target:.2f}%) after {epoch} epochs")
            return
    print(f"did not reach {target:.2f}% test accuracy in {max_epochs} epochs")


if __name__ == "__main__":
    main()
