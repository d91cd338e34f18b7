#!/usr/bin/python3
"""Writes the bench's PyTorch LeNet-5 as ONNX (dynamic batch) for ONNX Runtime, and a one-Relu
model of the same input, whose time is ORT's per-call cost outside the network (binding,
session run, tensor copies): subtracted to give ORT's in-library time.

usage: export_onnx.py DIR   (writes DIR/lenet5.onnx and DIR/relu.onnx)
"""
import os
import sys

import torch

from pytorch_lenet5 import LeNet5


class Relu(torch.nn.Module):
    def forward(self, x):
        return torch.relu(x)


def export(model, path):
    x = torch.rand(1, 1, 28, 28)
    torch.onnx.export(model.eval(), x, path, input_names=["images"], output_names=["logits"],
                      dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    export(LeNet5(), os.path.join(out, "lenet5.onnx"))
    export(Relu(), os.path.join(out, "relu.onnx"))


if __name__ == "__main__":
    main()
