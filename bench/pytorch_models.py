#!/usr/bin/python3
"""PyTorch 1.13 baselines for the shipped models (models/*.toml), measured the way `MODEL bench`
measures: batch-1 latency (median), inference img/s per batch size, training img/s (SGD lr 0.01,
momentum 0.9) at the training batch. Prints CSV rows.

usage: pytorch_models.py --model lenet5 --threads N --batches 1,64,256 --train-batch 64 --seconds S
                         [--device cuda]
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet5(nn.Module):
    """models/lenet5.toml: ReLU and max pooling."""
    input_shape = (1, 28, 28)

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


class LeNet5Classic(LeNet5):
    """models/lenet5-classic.toml: the same shapes with tanh and average pooling."""

    def forward(self, x):
        x = F.avg_pool2d(torch.tanh(self.conv1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(torch.tanh(self.fc2(torch.tanh(self.fc1(x)))))


class AlexNetSmall(nn.Module):
    """models/alexnet-small.toml: strides, LRN (n 5, kappa 2, gamma 1e-4, beta 0.75 is PyTorch's
    size 5, alpha 5e-4, k 2) and a grouped convolution."""
    input_shape = (3, 32, 32)

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 5, stride=2, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 96, 3, padding=1, groups=2)
        self.norm = nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)
        self.fc1 = nn.Linear(96 * 3 * 3, 256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x):
        x = F.max_pool2d(self.norm(F.relu(self.conv1(x))), 3, 2)
        x = F.max_pool2d(self.norm(F.relu(self.conv2(x))), 3, 2)
        x = torch.flatten(F.relu(self.conv3(x)), 1)
        return self.fc2(F.relu(self.fc1(x)))


class AlexNet(nn.Module):
    """models/alexnet.toml: Krizhevsky et al. 2012, two groups and LRN as on the paper's two GPUs
    (torchvision's alexnet() is the later one-GPU variant: 64-192-384-256-256, no LRN)."""
    input_shape = (3, 227, 227)

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4)
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1, groups=2)
        self.norm = nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)
        self.fc6 = nn.Linear(256 * 6 * 6, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, 1000)

    def forward(self, x):
        x = F.max_pool2d(self.norm(F.relu(self.conv1(x))), 3, 2)
        x = F.max_pool2d(self.norm(F.relu(self.conv2(x))), 3, 2)
        x = F.relu(self.conv4(F.relu(self.conv3(x))))
        x = F.max_pool2d(F.relu(self.conv5(x)), 3, 2)
        x = torch.flatten(x, 1)
        return self.fc8(F.relu(self.fc7(F.relu(self.fc6(x)))))


class ResNetSmall(nn.Module):
    """models/resnet-small.toml, its layer names as attributes: a stem, a residual block at 16
    channels, one at 32 with a strided 1x1 projection shortcut, global average pooling."""

    def __init__(self):
        super().__init__()
        self.input_shape = (1, 28, 28)
        self.conv1, self.bn1 = nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)
        self.block1_conv1, self.block1_bn1 = nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)
        self.block1_conv2, self.block1_bn2 = nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)
        self.block2_conv1, self.block2_bn1 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32)
        self.block2_conv2, self.block2_bn2 = nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32)
        self.block2_shortcut, self.block2_shortcut_bn = nn.Conv2d(16, 32, 1, stride=2, bias=False), nn.BatchNorm2d(32)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.block1_bn1(self.block1_conv1(x)))
        x = F.relu(self.block1_bn2(self.block1_conv2(y)) + x)
        y = F.relu(self.block2_bn1(self.block2_conv1(x)))
        x = F.relu(self.block2_bn2(self.block2_conv2(y)) + self.block2_shortcut_bn(self.block2_shortcut(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def vgg16():
    """models/vgg16.toml: torchvision's vgg16() (configuration D), random init."""
    import torchvision  # only this model needs it
    model = torchvision.models.vgg16()
    model.input_shape = (3, 224, 224)
    return model


def torchvision_model(name):
    """models/NAME.toml (scripts/torchvision_spec.py): torchvision's network, random init."""
    def make():
        import torchvision
        model = getattr(torchvision.models, name)(weights=None)
        model.input_shape = (3, 224, 224)
        return model
    return make


MODELS = {"lenet5": LeNet5, "lenet5_classic": LeNet5Classic, "alexnet_small": AlexNetSmall, "alexnet": AlexNet,
          "vgg16": vgg16, "resnet_small": ResNetSmall, "resnet18": torchvision_model("resnet18"), "resnet50": torchvision_model("resnet50"),
          "mobilenet_v2": torchvision_model("mobilenet_v2")}


def timed(fn, seconds, device="cpu"):
    if device != "cpu":  # GPU calls return before the kernels finish: time them to the end
        run = fn

        def fn():
            run()
            torch.cuda.synchronize()
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
    parser.add_argument("--model", default="lenet5", choices=sorted(MODELS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", default="1,64,256")
    parser.add_argument("--train-batch", type=int, default=64, help="0: no training step")
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU baseline")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = args.device
    model = MODELS[args.model]().to(device)
    name, shape = args.model, model.input_shape
    version = torch.__version__ + ("" if device == "cpu" else "-" + device)
    print("model,target,schedule,kind,batch,latency_us,img_per_s")
    model.eval()
    with torch.no_grad():
        for batch in [int(b) for b in args.batches.split(",")]:
            x = torch.rand(batch, *shape, device=device)
            median, mean = timed(lambda: model(x), args.seconds, device)
            print(f"{name},pytorch-{version},pytorch,inference,{batch},{median * 1e6:.1f},{batch / mean:.2f}")
    if args.train_batch == 0:
        return
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand(args.train_batch, *shape, device=device)
    y = torch.randint(0, 10, (args.train_batch,), device=device)

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    _, mean = timed(step, args.seconds, device)  # a step's mean time, as `MODEL bench` reports training
    print(f"{name},pytorch-{version},pytorch,train_step,{args.train_batch},{mean * 1e6:.1f},"
          f"{args.train_batch / mean:.2f}")


if __name__ == "__main__":
    main()
