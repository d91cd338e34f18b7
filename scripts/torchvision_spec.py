#!/usr/bin/python3
"""Writes a cnngen model spec for a torchvision network, in its layer order and with its names:
torch.fx traces the module, and each call of a layer becomes a spec layer named after the module
(dots become '_': layer1.0.conv1 is layer 'layer1_0_conv1', its weight 'layer1_0_conv1.weight').
The shipped models/resnet18.toml, resnet50.toml and mobilenet_v2.toml came from this (PyTorch is
needed only here, never to build or run them):

  scripts/torchvision_spec.py resnet18 -o models/resnet18.toml
"""
import argparse
import operator

import torch
import torch.fx
import torchvision
from torch import nn


def pair(value):
    return value if isinstance(value, int) else list(value) if value[0] != value[1] else value[0]


def window_fields(m, stride_default=None):
    fields = {"kernel": pair(m.kernel_size)}
    stride = m.stride if m.stride is not None else m.kernel_size
    if stride_default is None or pair(stride) != stride_default:
        fields["stride"] = pair(stride)
    if pair(m.padding) != 0:
        fields["padding"] = pair(m.padding)
    return fields


def module_layer(m):
    """The spec kind and fields of one module, or None for a module that passes its input on."""
    if isinstance(m, nn.Conv2d):
        fields = {"out_channels": m.out_channels, **window_fields(m, 1)}
        if pair(m.dilation) != 1:
            fields["dilation"] = pair(m.dilation)
        if m.groups != 1:
            fields["groups"] = m.groups
        if m.bias is None:
            fields["bias"] = False
        return "conv2d", fields
    if isinstance(m, nn.BatchNorm2d):
        if m.momentum is None:
            raise SystemExit("torchvision_spec.py: BatchNorm2d with momentum=None (a cumulative average) has no cnngen form")
        return "batch_norm", {"epsilon": m.eps, "momentum": m.momentum}
    if isinstance(m, nn.ReLU):
        return "relu", {}
    if isinstance(m, nn.ReLU6):
        return "relu6", {}
    if isinstance(m, nn.Hardswish):
        return "hardswish", {}
    if isinstance(m, nn.MaxPool2d):
        fields = window_fields(m)
        if m.ceil_mode:
            fields["ceil_mode"] = True
        if pair(m.dilation) != 1:
            fields["dilation"] = pair(m.dilation)
        return "max_pool", fields
    if isinstance(m, nn.AdaptiveAvgPool2d) and pair(m.output_size) == 1:
        return "global_avg_pool", {}
    if isinstance(m, nn.Dropout):
        return "dropout", {"p": m.p}
    if isinstance(m, nn.Linear):
        fields = {"out_features": m.out_features}
        if m.bias is None:
            fields["bias"] = False
        return "fully_connected", fields
    raise SystemExit(f"torchvision_spec.py: no cnngen layer for module {type(m).__name__}")


def function_layer(node):
    """The spec kind of a traced function call, "pass" for one that passes its input on."""
    if node.target in (operator.add, torch.add):
        return "add"
    if node.target is torch.cat:
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
        if dim != 1:
            raise SystemExit(f"torchvision_spec.py: torch.cat along dimension {dim}; cnngen concatenates channels")
        return "concat"
    if node.target is torch.flatten:
        return "pass"  # a fully_connected flattens its input
    if node.target is nn.functional.adaptive_avg_pool2d and pair(node.args[1]) == 1:
        return "global_avg_pool"
    raise SystemExit(f"torchvision_spec.py: no cnngen layer for {node.target}")


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def spec_text(name, net, batch_sizes, train_batch):
    graph = torch.fx.symbolic_trace(net).graph
    modules = dict(net.named_modules())
    layer_of = {}  # fx node -> the spec layer holding its value ("input" for the images)
    layers = []
    for node in graph.nodes:
        if node.op == "placeholder":
            layer_of[node] = "input"
            continue
        if node.op == "output":
            continue
        sources = [layer_of[a] for a in node.all_input_nodes]
        if node.op == "call_module":
            kind, fields = module_layer(modules[node.target])
            layer = node.target.replace(".", "_")
            if any(entry["name"] == layer for entry in layers):
                layer = node.name  # a module called twice (ResNet's relu): fx's unique name
        elif node.op in ("call_function", "call_method"):
            kind, fields, layer = function_layer(node), {}, node.name
            if kind == "pass":
                layer_of[node] = sources[0]
                continue
        else:
            raise SystemExit(f"torchvision_spec.py: fx node {node.op} {node.target} not handled")
        layers.append({"name": layer, "kind": kind, "inputs": sources, **fields})
        layer_of[node] = layer
    lines = [f"# torchvision's {name} (weights=None) as traced by torch.fx; written by scripts/torchvision_spec.py.",
             "# Layers are torchvision's modules, dots as '_': state_dict key layer1.0.conv1.weight is",
             "# layer1_0_conv1.weight here (BatchNorm's num_batches_tracked has no counterpart).",
             f'name = "{name}"', f'description = "torchvision {name}, 3x224x224, 1000 classes"', "",
             "[input]", "channels = 3", "height = 224", "width = 224", "",
             "[build]", f"batch_sizes = {toml_value(batch_sizes)}", f"train_batch = {train_batch}"]
    previous = "input"
    for layer in layers:
        lines += ["", "[[layers]]", f'name = "{layer["name"]}"', f'kind = "{layer["kind"]}"']
        if layer["inputs"] != [previous]:
            lines.append(f"inputs = {toml_value(layer['inputs'])}")
        for key, value in layer.items():
            if key not in ("name", "kind", "inputs"):
                lines.append(f"{key} = {toml_value(value)}")
        previous = layer["name"]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a torchvision.models constructor: resnet18, resnet50, mobilenet_v2, ...")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--batch-sizes", default="1,8")
    parser.add_argument("--train-batch", type=int, default=8)
    args = parser.parse_args()
    net = getattr(torchvision.models, args.model)(weights=None)
    text = spec_text(args.model, net, [int(b) for b in args.batch_sizes.split(",")], args.train_batch)
    with open(args.output, "w") as file:
        file.write(text)


if __name__ == "__main__":
    main()
