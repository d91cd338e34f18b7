#!/usr/bin/python3
"""A PyTorch LeNet-5 exported with torch.onnx.export, imported and built by cnngen, must give
PyTorch's logits; exported again by the generated executable (export --onnx) and re-imported,
the same logits. A second network checks what the exporter adds around layers: Dropout (gone in
eval mode), AvgPool2d with padding (Pad + AveragePool) and a BatchNorm1d after a Linear (the
exporter folds the BatchNorm2d into conv1 itself; cnngen folds this one into fc1); it builds for
inference only, and training it is refused with the reason."""
import pathlib
import sys

import numpy as np
import onnx
import torch
from onnx_test_support import arguments, relative_difference, run
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
from pytorch_models import LeNet5  # noqa: E402  models/lenet5.toml in PyTorch, with its state_dict names


class Folded(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool1 = nn.AvgPool2d(3, stride=2, padding=1)
        self.drop = nn.Dropout(0.5)
        self.fc1 = nn.Linear(8 * 13 * 13, 32)
        self.bn2 = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.pool1(torch.relu(self.bn1(self.conv1(x))))
        x = self.drop(torch.flatten(x, 1))
        return self.fc2(torch.relu(self.bn2(self.fc1(x))))


def run_ok(*command):
    result = run(*command)
    if result.returncode != 0:
        sys.exit(f"FAIL: exit {result.returncode}")
    return result


def export(model, path, sample):
    torch.onnx.export(model, sample, str(path), input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=13)


def logits_of(build, name, weights, images, work):
    np.save(work / "images.npy", images)
    run_ok(build / name, "predict", "--weights", weights, "--input", work / "images.npy", "--logits", work / "logits.npy")
    return np.load(work / "logits.npy")


def check_close(got, expected, what, tolerance):
    error = relative_difference(got, expected)
    print(f"{what}: largest difference {error:.3g}")
    if got.shape != expected.shape or not error <= tolerance:
        sys.exit(f"FAIL: {what}: shape {got.shape} against {expected.shape}, difference {error:.3g}")


def main():
    args = arguments(__doc__)
    work = args.work
    torch.manual_seed(5)
    images = torch.randn(20, 1, 28, 28)

    # LeNet-5 there and back.
    lenet = LeNet5().eval()
    export(lenet, work / "lenet5.onnx", images[:1])
    with torch.no_grad():
        expected = lenet(images).numpy()
    run_ok(args.cnngen, "build", work / "lenet5.onnx", "-o", work / "lenet5", "--batch-sizes", "1,8", "--inference-only")
    spec = (work / "lenet5" / "lenet5.toml").read_text()
    for name in ["conv1", "conv2", "fc1", "fc2", "fc3"]:  # the state_dict names
        if f'name = "{name}"' not in spec or not (work / "lenet5" / "weights" / f"{name}.weight.npy").exists():
            sys.exit(f"FAIL: the imported spec or weights lack PyTorch's {name}")
    first = logits_of(work / "lenet5", "lenet5", work / "lenet5" / "weights", images.numpy(), work)
    check_close(first, expected, "imported LeNet-5 against PyTorch", 1e-4)

    run_ok(work / "lenet5" / "lenet5", "export", "--onnx", work / "exported.onnx", "--weights", work / "lenet5" / "weights")
    exported = onnx.load(work / "exported.onnx")
    onnx.checker.check_model(exported, full_check=True)  # full_check runs ONNX's shape inference too
    print("exported model: onnx.checker passed;", [n.op_type for n in exported.graph.node])
    run_ok(args.cnngen, "build", work / "exported.onnx", "-o", work / "again", "--name", "lenet5_again",
        "--batch-sizes", "1,8", "--inference-only")
    second = logits_of(work / "again", "lenet5_again", work / "again" / "weights", images.numpy(), work)
    check_close(second, first, "re-imported export against the first import", 1e-6)

    # BatchNorm, Dropout and a padded AvgPool2d folded away.
    folded = Folded()
    with torch.no_grad():  # running statistics unlike the identity, so folding them matters
        for bn in [folded.bn1, folded.bn2]:
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    folded.eval()
    export(folded, work / "folded.onnx", images[:1])
    ops = [n.op_type for n in onnx.load(work / "folded.onnx").graph.node]
    print("PyTorch exported:", ops)
    for op in ["BatchNormalization", "Pad", "AveragePool"]:
        if op not in ops:
            sys.exit(f"FAIL: expected PyTorch 1.13 to export a {op}; the test no longer covers it")
    built = run_ok(args.cnngen, "build", work / "folded.onnx", "-o", work / "folded", "--batch-sizes", "1,8")
    if "building inference only: BatchNormalization" not in built.stdout:
        sys.exit("FAIL: the build did not say it is inference only because of the folded BatchNormalization")
    with torch.no_grad():
        expected = folded(images).numpy()
    got = logits_of(work / "folded", "folded", work / "folded" / "weights", images.numpy(), work)
    check_close(got, expected, "folded network against PyTorch", 1e-4)
    refused = run(work / "folded" / "folded", "train", "--data", "/nonexistent")
    if refused.returncode == 0 or "inference only" not in refused.stderr:
        sys.exit("FAIL: training the folded network was not refused with the reason")
    print("PASS")


if __name__ == "__main__":
    main()
