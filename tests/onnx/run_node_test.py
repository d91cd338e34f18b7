#!/usr/bin/python3
"""One of ONNX's backend tests (libonnx-testdata) through cnngen: import model.onnx, build it,
run test_data_set_0's input and compare with its expected output.

The node tests pass weights (Conv's W, Gemm's B, ...) as graph inputs with their values in
test_data_set_0; cnngen bakes weights in, so this moves every input after the first into an
initializer first. With --expect-error, the import must fail with that text instead (an
operator or attribute cnngen cannot express)."""
import pathlib
import sys

import numpy as np
import onnx
from onnx import numpy_helper
from onnx_test_support import arguments, relative_difference, run


def load_tensor(path):
    tensor = onnx.TensorProto()
    tensor.ParseFromString(path.read_bytes())
    return numpy_helper.to_array(tensor)


def main():
    def options(parser):
        parser.add_argument("--case", required=True, help="libonnx-testdata's folder of the test")
        parser.add_argument("--expect-error", help="the import must fail with this text")
        parser.add_argument("--tolerance", type=float, default=1e-4)

    args = arguments(__doc__, options)
    case, work = pathlib.Path(args.case), args.work
    model = onnx.load(case / "model.onnx")
    data = case / "test_data_set_0"
    initialized = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initialized]
    for k, graph_input in enumerate(inputs[1:], start=1):
        value = load_tensor(data / f"input_{k}.pb")
        model.graph.initializer.append(numpy_helper.from_array(value, graph_input.name))
    onnx.save(model, work / "model.onnx")

    name = "node_" + "".join(ch if ch.isalnum() else "_" for ch in case.name)
    imported = run(args.cnngen, "import", work / "model.onnx", "-o", work / "import", "--name", name)
    if args.expect_error:
        if imported.returncode == 0:
            sys.exit(f"FAIL: the import succeeded; expected an error with '{args.expect_error}'")
        if args.expect_error not in imported.stderr:
            sys.exit(f"FAIL: the import's error does not say '{args.expect_error}'")
        print(f"PASS: not expressible, as expected: {imported.stderr.strip()}")
        return
    if imported.returncode != 0:
        sys.exit("FAIL: the import failed")

    built = run(args.cnngen, "build", work / "import" / f"{name}.toml", "-o", work / "build")
    if built.returncode != 0:
        sys.exit("FAIL: the build failed")

    images = load_tensor(data / "input_0.pb").astype(np.float32)
    expected = load_tensor(data / "output_0.pb")
    # cnngen holds (N, C, L) as (N, C, 1, L) and (N, F) as (N, F, 1, 1): the same memory.
    if images.ndim == 3:
        images = images.reshape(images.shape[0], images.shape[1], 1, images.shape[2])
    elif images.ndim == 2:
        images = images.reshape(images.shape[0], images.shape[1], 1, 1)
    np.save(work / "input.npy", images)
    predicted = run(work / "build" / name, "predict", "--weights", work / "import" / "weights",
                    "--input", work / "input.npy", "--logits", work / "output.npy")
    if predicted.returncode != 0:
        sys.exit("FAIL: predict failed")
    got = np.load(work / "output.npy")
    if got.size != expected.size or got.shape[0] != expected.shape[0]:
        sys.exit(f"FAIL: output shape {got.shape}, expected {expected.shape}")
    got = got.reshape(expected.shape)
    error = relative_difference(got, expected)
    print(f"output {expected.shape}: largest difference {error:.3g} relative to max(1, largest |expected|)")
    if not error <= args.tolerance:
        sys.exit(f"FAIL: differs from ONNX's expected output by {error:.3g} (tolerance {args.tolerance})")
    print("PASS")


if __name__ == "__main__":
    main()
