#!/usr/bin/python3
"""Writes a bench model (pytorch_models.py) as ONNX with a dynamic batch for ONNX Runtime, and a
one-Relu model of the same input, whose time is ORT's per-call cost outside the network
(binding, session run, tensor copies): subtracted to give ORT's in-library time.

usage: export_onnx.py MODEL DIR   (writes DIR/MODEL.onnx and DIR/MODEL-relu.onnx; prints the
       model's input shape C,H,W as the last line)
"""
import os
import sys

import torch

from pytorch_models import MODELS


class Relu(torch.nn.Module):
    def forward(self, x):
        return torch.relu(x)


def export(model, shape, path):
    x = torch.rand(1, *shape)
    torch.onnx.export(model.eval(), x, path, input_names=["images"], output_names=["logits"],
                      dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)


def main():
    name, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    model = MODELS[name]()
    export(model, model.input_shape, os.path.join(out, name + ".onnx"))
    export(Relu(), model.input_shape, os.path.join(out, name + "-relu.onnx"))
    print(",".join(str(d) for d in model.input_shape))


if __name__ == "__main__":
    main()
