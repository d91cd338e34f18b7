#!/usr/bin/python3
"""A torchvision network with branches (ResNet, MobileNetV2, DenseNet, GoogLeNet, SqueezeNet),
random weights, exported as a user would (torch.onnx.export, opset 13, dynamic batch, eval mode),
imported and built by `cnngen build MODEL.onnx` with the default schedule for inference at batch
1 and 3 (or the batches --batches names), must give torchvision's logits within 1e-4 of their
largest magnitude at every batch.
"""
import sys

import numpy as np
import torch
import torchvision
from onnx_test_support import arguments, run

TOLERANCE = 1e-4  # largest difference over the largest |logit|


def network(name):
    if name == "googlenet":  # torchvision's own constructor warns of init_weights otherwise
        return torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True)
    return getattr(torchvision.models, name)(weights=None)


def calibrate(net):
    """BatchNorm running statistics from a batch, as training would leave them: with PyTorch's
    fresh ones (mean 0, variance 1) the activations shrink layer after layer and the logits of
    MobileNetV2 come out near 1e-9, too small to test anything."""
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the batches seen
    net.train()
    with torch.no_grad():
        net(torch.rand(8, 3, 224, 224) * 2 - 1)
    return net.eval()


def run_ok(*command):
    result = run(*command)
    if result.returncode != 0:
        sys.exit(f"FAIL: exit {result.returncode}")
    return result


def main():
    def options(parser):
        parser.add_argument("--model", required=True)
        parser.add_argument("--batches", default="1,3", help="comma-separated batch sizes to build and check")

    args = arguments(__doc__, options)
    work, name = args.work, args.model
    batches = [int(b) for b in args.batches.split(",")]
    torch.manual_seed(2014)
    net = calibrate(network(name))
    images = torch.rand(max(batches), 3, 224, 224) * 2 - 1
    torch.onnx.export(net, images[:1], str(work / f"{name}.onnx"), input_names=["images"], output_names=["logits"],
                      dynamic_axes={"images": {0: "N"}, "logits": {0: "N"}}, opset_version=13)
    run_ok(args.cnngen, "build", work / f"{name}.onnx", "-o", work / name, "--batch-sizes", args.batches, "--inference-only")
    failed = False
    for batch in batches:
        with torch.no_grad():
            expected = net(images[:batch]).numpy()
        np.save(work / "images.npy", images[:batch].numpy())
        run_ok(work / name / name, "predict", "--weights", work / name / "weights", "--input", work / "images.npy",
               "--logits", work / "logits.npy")
        got = np.load(work / "logits.npy").reshape(expected.shape)
        error = np.abs(got - expected).max() / np.abs(expected).max()
        print(f"{name} at batch {batch}: largest difference {error:.2e} of the largest logit "
              f"{np.abs(expected).max():.4g} (bound {TOLERANCE:.0e})")
        failed |= not error <= TOLERANCE
    if failed:
        sys.exit(f"FAIL: {name}'s logits differ from torchvision's")


if __name__ == "__main__":
    main()
