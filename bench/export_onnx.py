#!/usr/bin/python3
"""Writes a bench model (pytorch_models.py) as ONNX with a dynamic batch for ONNX Runtime, and a
model of the same input and output shapes that computes nothing (the input's first values as
its "logits"), whose time is ORT's per-call cost outside the network (binding, session run,
the output's copy): subtracted to give ORT's in-library time.

The output matters: a probe returning an input-sized tensor (the one-Relu model used until
2026-12-08) spent most of its time returning that tensor to JavaScript, which the network,
returning logits, never does: 0.36-17.1 ms a call at batch 8 of 3x224x224 (bimodal, run to run)
against 16-27 us for this one, so the in-library figure had been the network's time minus up to
two thirds of it (MobileNetV2, AlexNet and LeNet-5 at batch 256).

usage: export_onnx.py MODEL DIR   (writes DIR/MODEL.onnx and DIR/MODEL-call.onnx; prints the
       model's input shape C,H,W as the last line)
"""
import os
import sys

import torch

from pytorch_models import MODELS


class CallCost(torch.nn.Module):
    """The network's input in, `logits` of its values out, nothing computed."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, x):
        return x.flatten(1)[:, :self.logits]


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
    with torch.no_grad():
        logits = model.eval()(torch.rand(1, *model.input_shape)).shape[1]
    values = 1
    for d in model.input_shape:
        values *= d
    if logits > values:
        sys.exit(f"export_onnx.py: {name} has {logits} logits, more than its {values} input values")
    export(CallCost(logits), model.input_shape, os.path.join(out, name + "-call.onnx"))
    print(",".join(str(d) for d in model.input_shape))


if __name__ == "__main__":
    main()
