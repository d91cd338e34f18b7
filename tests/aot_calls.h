#pragma once
// Runs one generated layer function on a fixture, whatever its family; the
// argument order is the generator's Input order followed by its Output.
#include "aot_fixtures.h"

#include <HalideRuntime.h>

namespace aot {

using Conv = int (*)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);
using Unary = int (*)(halide_buffer_t *, halide_buffer_t *);
// Same C signature as Conv; wrapped so overloads can tell them apart.
struct Loss {
    int (*fn)(halide_buffer_t *, halide_buffer_t *, halide_buffer_t *, halide_buffer_t *);
};

inline reference::Tensor run(Conv fn, Fixture &f, int &status) {
    Buffer in = to_buffer(f.inputs["input"]), w = to_buffer(f.inputs["weight"]), b = to_buffer(f.inputs["bias"]);
    Buffer out = output_for(f.expected.shape);
    status = fn(in, w, b, out);
    return to_tensor(out);
}

inline reference::Tensor run(Unary fn, Fixture &f, int &status) {
    Buffer in = to_buffer(f.inputs["input"]);
    Buffer out = output_for(f.expected.shape);
    status = fn(in, out);
    return to_tensor(out);
}

inline reference::Tensor run(Loss fn, Fixture &f, int &status) {
    Buffer prediction = to_buffer(f.inputs["prediction"]), targets = to_buffer(f.inputs["targets"]);
    Halide::Runtime::Buffer<int32_t> labels(int(f.labels.size()));
    for (size_t n = 0; n < f.labels.size(); ++n) labels(int(n)) = f.labels[n];
    labels.set_host_dirty();
    Buffer out = Buffer::make_scalar();
    status = fn.fn(prediction, labels, targets, out);
    return to_tensor(out);
}

}  // namespace aot
