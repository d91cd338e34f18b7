#!/usr/bin/python3
"""Broken and unsupported ONNX files: `cnngen import` must exit 1 with an error naming the file,
node or tensor and what is wrong, and leave nothing written."""
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx_test_support import arguments


def image_input(name="x", elem_type=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem_type, ["N", 1, 8, 8])


def output(name):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, None)


def model(nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "bad", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def weight(name, dtype=np.float32):
    return numpy_helper.from_array(np.ones((2, 1, 3, 3), dtype=dtype), name)


def valid():
    return model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv"), helper.make_node("Relu", ["y"], ["z"])],
                 [image_input()], [output("z")], [weight("w")])


CASES = {
    "empty": (b"", "empty file"),
    "truncated": (valid()[: len(valid()) // 2], "not a valid ONNX model"),
    "not_protobuf": (b"name = 'lenet5'\n[input]\n", "not a valid ONNX model"),
    "unknown_op": (model([helper.make_node("Abs", ["x"], ["y"], name="abs1")], [image_input()], [output("y")]),
                   "node 'abs1' (Abs) on input 'x': operator Abs is not supported"),
    "missing_initializer": (model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [image_input()],
                                  [output("y")]),
                            "node 'conv' (Conv) on input 'x': input 1 'w' is missing"),
    "weight_as_input": (model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
                              [image_input(), helper.make_tensor_value_info("w", TensorProto.FLOAT, [2, 1, 3, 3])],
                              [output("y")]),
                        "graph input 'w' (used by 'conv' (Conv)) has no initializer"),
    "cycle": (model([helper.make_node("Relu", ["x", "b"], ["a"], name="first"),
                     helper.make_node("Relu", ["a"], ["b"], name="second")], [image_input()], [output("b")]),
              "the graph has a cycle: nodes 'first' (Relu), 'second' (Relu)"),
    "int_weight": (model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [image_input()], [output("y")],
                         [weight("w", np.int32)]),
                   "weight 'w': element type INT32, expected FLOAT"),
    "double_weight": (model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [image_input()], [output("y")],
                            [weight("w", np.float64)]),
                      "weight 'w': element type DOUBLE, expected FLOAT"),
    "uint8_input": (model([helper.make_node("Relu", ["x"], ["y"])], [image_input("x", TensorProto.UINT8)], [output("y")]),
                    "graph input 'x' has element type UINT8, expected FLOAT"),
    "dangling_branch": (model([helper.make_node("Relu", ["x"], ["a"], name="left"),
                        helper.make_node("Sigmoid", ["x"], ["b"], name="right")], [image_input()], [output("a")]),
                 "node 'right' (Sigmoid) on input 'x': its output 'b' is never used: a dangling branch"),
    "wrong_channels": (model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [image_input()], [output("y")],
                             [numpy_helper.from_array(np.ones((2, 3, 3, 3), np.float32), "w")]),
                       "node 'conv' (Conv) on input 'x': weight 'w' has shape 2x3x3x3, expected 2x1x3x3"),
}


def main():
    args = arguments(__doc__)
    work = args.work
    failures = []
    for name, (data, message) in CASES.items():
        path = work / f"{name}.onnx"
        path.write_bytes(data)
        out = work / f"{name}_out"
        result = subprocess.run([args.cnngen, "import", str(path), "-o", str(out), "--name", "bad"], capture_output=True,
                                text=True)
        error = result.stderr.strip()
        print(f"{name}: exit {result.returncode}: {error}")
        if result.returncode != 1:
            failures.append(f"{name}: exit {result.returncode}, expected 1")
        if message not in error or str(path) not in error:
            failures.append(f"{name}: the error does not name the file and say '{message}'")
        if out.exists() and any(out.iterdir()):
            failures.append(f"{name}: {out} holds files after a failed import")
    # The control: the same small model without the faults imports.
    (work / "valid.onnx").write_bytes(valid())
    result = subprocess.run([args.cnngen, "import", str(work / "valid.onnx"), "-o", str(work / "valid_out")])
    if result.returncode != 0 or not (work / "valid_out" / "weights" / "conv1.weight.npy").exists():
        failures.append("valid: the fault-free model did not import")
    if failures:
        sys.exit("FAIL:\n  " + "\n  ".join(failures))
    print("PASS")


if __name__ == "__main__":
    main()
