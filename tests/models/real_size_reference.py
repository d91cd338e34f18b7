#!/usr/bin/python3
"""The real-size models against independent PyTorch networks: VGG-16 is torchvision's vgg16()
(configuration D), AlexNet the paper's network written in PyTorch (bench/pytorch_models.py), and
ResNet-18, ResNet-50 and MobileNetV2 torchvision's, whose BatchNorm running statistics come from
a batch so that they are not the identity. All random-initialized with a fixed seed; nothing is
downloaded.

  real_size_reference.py logits MODEL EXECUTABLE WORK_DIR
      writes the PyTorch weights under the spec's names and one image, runs
      `EXECUTABLE predict` on them and compares the logits (relative to the largest).
  real_size_reference.py memory MODEL EXECUTABLE WORK_DIR
      the peak resident memory of batch-1 inference against parameters + activations (below);
      for a graph (ResNet-50), against parameters + its two largest activations + 64 MiB.
  real_size_reference.py train MODEL STEP_EXECUTABLE WORK_DIR STEPS
      the same weights, STEPS SGD steps (lr 0.01, momentum 0.9) on fixed batches in PyTorch and
      in `STEP_EXECUTABLE` (tests/models/train_steps.cpp), then compares every parameter and
      its velocity.
"""
import copy
import os
import re
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

# The bench's PyTorch networks: the paper's AlexNet is written there once.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from pytorch_models import AlexNet, ResNetSmall  # noqa: E402

TOLERANCE = 1e-4  # largest difference relative to the largest magnitude
GRAPH_TOLERANCE = 5e-3  # the graphs' training steps against float64 (train())


def vgg16():
    net = torchvision.models.vgg16()  # random init; dropout is off in eval()
    net.eval()
    # features.K / classifier.K -> the spec's conv<block>_<index> / fc6..fc8
    names, block, index = {}, 1, 1
    for k, layer in enumerate(net.features):
        if isinstance(layer, nn.Conv2d):
            for p in ("weight", "bias"):
                names[f"features.{k}.{p}"] = f"conv{block}_{index}.{p}"
            index += 1
        elif isinstance(layer, nn.MaxPool2d):
            block, index = block + 1, 1
    for k, fc in ((0, "fc6"), (3, "fc7"), (6, "fc8")):
        for p in ("weight", "bias"):
            names[f"classifier.{k}.{p}"] = f"{fc}.{p}"
    net.spec_names = lambda: names
    net.input_shape = (3, 224, 224)
    return net


def alexnet():
    net = AlexNet()  # the spec's layer names are its attribute names
    net.eval()
    net.spec_names = lambda: {name: name for name in net.state_dict()}
    return net


def torchvision_graph(name):
    """A torchvision network traced into models/NAME.toml by scripts/torchvision_spec.py: the
    spec's layer is the module's path with '_' for '.', its tensors keep their suffixes."""
    def make():
        net = getattr(torchvision.models, name)(weights=None)
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None  # a plain average of one batch
        net.train()
        with torch.no_grad():
            net(torch.rand(4, 3, 224, 224) * 2 - 1)
        for m in net.modules():  # PyTorch's default again, for the training test
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = 0.1
        net.eval()
        names = {}
        for key in net.state_dict():
            module, _, tensor = key.rpartition(".")
            if tensor != "num_batches_tracked":
                names[key] = f"{module.replace('.', '_')}.{tensor}"
        net.spec_names = lambda: names
        net.input_shape = (3, 224, 224)
        net.graph = True
        return net
    return make


def resnet_small():
    """models/resnet-small.toml in PyTorch (bench/pytorch_models.py): the spec's names."""
    net = ResNetSmall()
    net.spec_names = lambda: {key: key for key in net.state_dict() if not key.endswith("num_batches_tracked")}
    net.graph, net.classes = True, 10
    return net.eval()


GRAPHS = {"resnet18", "resnet50", "mobilenet_v2", "resnet_small"}
MODELS = {"vgg16": vgg16, "alexnet": alexnet, "resnet_small": resnet_small, "resnet18": torchvision_graph("resnet18"),
          "resnet50": torchvision_graph("resnet50"), "mobilenet_v2": torchvision_graph("mobilenet_v2")}


def save_weights(net, directory):
    os.makedirs(directory, exist_ok=True)
    names = net.spec_names()
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    if set(names) != set(state):
        sys.exit(f"renaming covers {sorted(names)}, the state_dict has {sorted(state)}")
    for key, value in state.items():
        np.save(os.path.join(directory, names[key] + ".npy"), value.numpy())


def relative_difference(got, expected):
    return float(np.max(np.abs(got - expected)) / max(np.max(np.abs(expected)), 1e-30))


def check(what, got, expected, tolerance=TOLERANCE):
    if got.shape != expected.shape:
        sys.exit(f"{what}: shape {got.shape}, PyTorch's {expected.shape}")
    difference = relative_difference(got, expected)
    print(f"{what}: largest difference {difference:.2e} of the largest magnitude {np.max(np.abs(expected)):.4g}")
    return difference <= tolerance


def logits(model, executable, work):
    torch.manual_seed(2012)
    net = MODELS[model]()
    save_weights(net, f"{work}/weights")
    image = torch.rand((1,) + net.input_shape) * 2 - 1
    np.save(f"{work}/image.npy", image.numpy())
    with torch.no_grad():
        expected = net(image).numpy()
    subprocess.run([executable, "predict", "--weights", f"{work}/weights", "--input", f"{work}/image.npy",
                    "--logits", f"{work}/logits.npy"], check=True, stdout=subprocess.DEVNULL)
    return check(f"{model} logits, batch 1", np.load(f"{work}/logits.npy"), expected)


PROCESS_MIB = 64  # the executable, its libraries, Halide's runtime and thread stacks


def largest_activations(info, count):
    """The `count` largest activations per image (MiB) in `MODEL info`'s memory table."""
    sizes = [int(row.group(1).replace(",", "")) for row in re.finditer(r"^  \S+ +\S+ +([\d,]+) +[\d,]+$", info, re.M)]
    return sum(sorted(sizes)[-count:]) * 4 / 2**20


# Forked from this process (PyTorch loaded, hundreds of MiB resident), a child's peak would start
# at this process's size: a small interpreter without PyTorch starts the executable and reports
# its peak.
LAUNCHER = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); "
            "_, status, usage = os.wait4(p.pid, 0); print(usage.ru_maxrss if status == 0 else -1)")


def peak_mib(command):
    """The peak resident memory of one run of `command`, in MiB."""
    out = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *command], check=True, capture_output=True, text=True)
    kib = int(out.stdout.split()[-1])
    if kib < 0:
        sys.exit(f"{' '.join(command)} failed")
    return kib / 1024


def graph_memory(executable):
    """A graph's batch-1 inference keeps an activation only until its last reader: the peak
    resident memory must stay within the parameters (no optimizer state: built inference only)
    + the two largest activations of one image + PROCESS_MIB."""
    info = subprocess.run([executable, "info"], check=True, capture_output=True, text=True).stdout
    held = re.search(r"held by this model: parameters ([\d.]+) MiB, optimizer state ([\d.]+) MiB, packed weight "
                     r"copies ([\d.]+) MiB", info)
    if not held:
        sys.exit(f"{executable} info: no memory accounting in\n{info}")
    parameters, optimizer, packed = float(held.group(1)), float(held.group(2)), float(held.group(3))
    two = largest_activations(info, 2)
    peak = peak_mib([executable, "--threads", "2", "bench", "--only-batch", "1", "--seconds", "0.2"])
    bound = parameters + optimizer + packed + two + PROCESS_MIB
    print(f"batch-1 inference peak {peak:.0f} MiB; bound {bound:.0f} MiB = parameters {parameters} + optimizer state "
          f"{optimizer} + packed weight copies {packed} + the two largest activations of one image {two:.1f} + "
          f"{PROCESS_MIB}")
    return peak <= bound


def memory(executable):
    """Batch-1 inference holds the parameters (and a trainable library its optimizer state; one
    that cannot train, none) and at most every layer's output of one image (the notes: only the
    current activations are needed); the peak resident memory of `bench --only-batch 1` must stay
    within that plus PROCESS_MIB. (Loading weights from .npy files
    holds them twice for a moment: not measured here.)"""
    info = subprocess.run([executable, "info"], check=True, capture_output=True, text=True).stdout
    found = re.search(r"total: [\d,]+ activations \(([\d.]+) MiB\) per image.*\(([\d.]+) MiB\)\n", info)
    held = re.search(r"held by this model: parameters ([\d.]+) MiB, optimizer state ([\d.]+) MiB, packed weight "
                     r"copies ([\d.]+) MiB.*", info)
    if not found or not held:
        sys.exit(f"{executable} info: no memory accounting in\n{info}")
    activations, parameters, optimizer = float(found.group(1)), float(found.group(2)), float(held.group(2))
    packed = float(held.group(3))  # what inference reads packed, beside the plain copies training reads
    inference_only = "(inference only)" in held.group(0)
    if float(held.group(1)) != parameters or (inference_only and optimizer != 0):
        sys.exit(f"{executable}: {held.group(0)}, expected {parameters} MiB of parameters, and no optimizer state "
                 "when the library cannot train")
    peak = peak_mib([executable, "--threads", "2", "bench", "--only-batch", "1", "--seconds", "0.2"])
    bound = parameters + optimizer + packed + activations + PROCESS_MIB
    print(f"batch-1 inference peak {peak:.0f} MiB; bound {bound:.0f} MiB = parameters {parameters} + optimizer "
          f"state {optimizer}{' (inference only)' if inference_only else ''} + packed weight copies {packed} + every "
          f"output of one image {activations} + {PROCESS_MIB}")
    return peak <= bound


def pytorch_steps(net, images, labels, dtype):
    """SGD steps on a copy of `net` in `dtype`; its parameters and momentum buffers by name, and
    (a network with BatchNorm, in training mode) the running statistics after the steps."""
    net = copy.deepcopy(net).to(dtype)
    if getattr(net, "graph", False):
        net.train()  # BatchNorm with batch statistics, updating the running ones
    sgd = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    for step in range(len(images)):
        sgd.zero_grad()
        F.cross_entropy(net(images[step].to(dtype)), labels[step].long()).backward()
        sgd.step()
    steps = {key: (p.detach().double().numpy(), sgd.state[p]["momentum_buffer"].double().numpy())
             for key, p in net.named_parameters()}
    running = {key: b.detach().double().numpy() for key, b in net.named_buffers() if "running" in key}
    return steps, running


def train(model, executable, work, steps):
    torch.manual_seed(2012)
    net = MODELS[model]()  # AlexNet: eval() (no dropout in its spec); the graphs train with batch statistics
    save_weights(net, f"{work}/initial")
    batch = {"resnet_small": 64, "resnet18": 4}.get(model, 8)
    images = torch.rand((steps, batch) + net.input_shape) * 2 - 1
    labels = torch.randint(0, getattr(net, "classes", 1000), (steps, batch), dtype=torch.int32)
    np.save(f"{work}/images.npy", images.numpy())
    np.save(f"{work}/labels.npy", labels.numpy().astype(np.float32))  # cnngen's .npy reader takes float32
    subprocess.run([executable, f"{work}/initial", f"{work}/images.npy", f"{work}/labels.npy", f"{work}/trained"],
                   check=True)
    # The velocities are PyTorch's momentum buffers (sum of 0.9^k times past gradients): they
    # test the gradients at full precision. Where float32 itself leaves a gradient less certain
    # than 1e-4 (PyTorch float32 against PyTorch float64: about 1e-2 for the convolutions behind
    # LRN and overlapping pooling here, 1e-6 for the rest), cnngen must be within half that gap
    # of PyTorch float32. The weights' changes are about 1e-4 of the weights, near float32's
    # resolution, so the weights are held to 1e-6 of their largest magnitude: a missing or wrong
    # update shows, rounding does not.
    single, running = pytorch_steps(net, images, labels, torch.float32)
    double, running_double = pytorch_steps(net, images, labels, torch.float64)
    names = net.spec_names()
    ok = True
    if getattr(net, "graph", False):
        # cnngen's float32 against PyTorch's float64, within twice PyTorch's own float32 error
        # or GRAPH_TOLERANCE, whichever is larger, for every parameter, velocity and running
        # statistic. Batch statistics over ResNet-18's 4 images leave the early layers'
        # gradients ill-conditioned (PyTorch float32 itself is a fifth off float64 there after
        # three steps). And cnngen sums a convolution's weight gradient over N x H x W in one
        # float32 running sum, where batch_norm's centred gradients cancel: 2e-3 off float64 in
        # resnet_small's first layers (PyTorch's blocked sums: 1e-5). A missing or wrong term
        # of a backward pass is off by far more.
        for key, (weights, velocity) in double.items():
            for what, expected, single_value, file in (
                    ("velocity", velocity, single[key][1], f"velocity_{names[key]}"),
                    ("weights", weights, single[key][0], names[key])):
                gap = relative_difference(single_value, expected)
                got = np.load(f"{work}/trained/{file}.npy")
                ok &= check(f"{model} {names[key]} {what} after {steps} SGD steps against float64 (PyTorch float32: "
                            f"{gap:.1e})", got, expected, max(GRAPH_TOLERANCE, 2 * gap))
        for key, expected in running_double.items():
            gap = relative_difference(running[key], expected)
            got = np.load(f"{work}/trained/{names[key]}.npy")
            ok &= check(f"{model} {names[key]} after {steps} training steps against float64 (PyTorch float32: "
                        f"{gap:.1e})", got, expected, max(GRAPH_TOLERANCE, 2 * gap))
        return ok
    # The velocities are PyTorch's momentum buffers (sum of 0.9^k times past gradients): they
    # test the gradients at full precision. Where float32 itself leaves a gradient less certain
    # than 1e-4 (PyTorch float32 against PyTorch float64: about 1e-2 for the convolutions behind
    # LRN and overlapping pooling here, 1e-6 for the rest), cnngen must be within half that gap
    # of PyTorch float32. The weights' changes are about 1e-4 of the weights, near float32's
    # resolution, so the weights are held to 1e-6 of their largest magnitude: a missing or wrong
    # update shows, rounding does not.
    for key, (weights, velocity) in single.items():
        gap = relative_difference(velocity, double[key][1])
        got = np.load(f"{work}/trained/velocity_{names[key]}.npy")
        ok &= check(f"{model} {names[key]} velocity after {steps} SGD steps (PyTorch float32 to float64: {gap:.1e})",
                    got, velocity, max(TOLERANCE, gap / 2))
        got = np.load(f"{work}/trained/{names[key]}.npy")
        ok &= check(f"{model} {names[key]} after {steps} SGD steps", got, weights, 1e-6)
    return ok


def main():
    mode, model, executable, work = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    if mode == "memory":
        ok = graph_memory(executable) if model in GRAPHS else memory(executable)
    elif mode == "logits":
        ok = logits(model, executable, work)
    else:
        ok = train(model, executable, work, int(sys.argv[5]))
    if not ok:
        sys.exit(f"{model}: {mode} check failed (see above)")


if __name__ == "__main__":
    main()
