#!/usr/bin/python3
"""PyTorch 1.13 baseline for the same LeNet-5 as models/lenet5.toml, measured the way
`MODEL bench` measures: batch-1 latency (median), inference img/s per batch size,
training img/s (SGD lr 0.01, momentum 0.9) at the training batch. Prints CSV rows.

usage: pytorch_lenet5.py --threads N --batches 1,64,256 --train-batch 64 --seconds S
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def timed(fn, seconds):
    fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 3:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    return sorted(times)[len(times) // 2], total / len(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", default="1,64,256")
    parser.add_argument("--train-batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = LeNet5()
    print("model,target,schedule,kind,batch,latency_us,img_per_s")
    model.eval()
    with torch.no_grad():
        for batch in [int(b) for b in args.batches.split(",")]:
            x = torch.rand(batch, 1, 28, 28)
            median, mean = timed(lambda: model(x), args.seconds)
            print(f"lenet5,pytorch-{torch.__version__},pytorch,inference,{batch},{median * 1e6:.1f},{batch / mean:.0f}")
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand(args.train_batch, 1, 28, 28)
    y = torch.randint(0, 10, (args.train_batch,))

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    median, mean = timed(step, args.seconds)
    print(f"lenet5,pytorch-{torch.__version__},pytorch,train_step,{args.train_batch},{mean * 1e6:.1f},"
          f"{args.train_batch / mean:.0f}")


if __name__ == "__main__":
    main()
