#include "fully_connected.h"

#include "errors.h"

using namespace Halide;

namespace cnngen {

Shape fully_connected_output_shape(const std::string &name, const Shape &input, const FullyConnectedParams &p) {
    if (input.size() != 2 && input.size() != 4)
        fail("{}: fully-connected expects a 2-D or 4-D input, got shape {}", name, shape_string(input));
    if (p.out_features < 1) fail("{}: out_features is {}, expected at least 1", name, p.out_features);
    return {input[0], p.out_features};
}

Layer fully_connected(const std::string &name, const Tensor &input, const FullyConnectedParams &p,
                      const ParamSource &source) {
    const int rank = int(input.shape.size());
    const Shape out_shape = fully_connected_output_shape(name, input.shape, p);
    const int batch = input.shape[0];
    const int in_features = int(element_count(input.shape) / batch);

    Dims d;
    Func weight = source(name + ".weight", {p.out_features, in_features});
    Func sum(name + "_sum");
    sum(d.i, d.n) = p.bias ? source(name + ".bias", {p.out_features})(d.i) : Expr(0.0f);
    // One reduction along k, contiguous in the weights' rows: an image input is read through its
    // C-order flattening (PyTorch's flatten), a stage schedules may store or leave inline.
    std::map<std::string, Func> stages{{"sum", sum}, {"weight", weight}};
    Func flat = input.func;
    if (rank == 4) {
        const int height = input.shape[2], width = input.shape[3];
        flat = Func(name + "_flat_input");
        flat(d.i, d.n) = input.func(d.i % width, (d.i / width) % height, d.i / (width * height), d.n);
        stages["flat_input"] = flat;
    }
    RDom r(0, in_features, name + "_r");
    sum(d.i, d.n) += weight(r, d.i) * flat(r, d.n);
    Func out(name);
    out(d.i, d.n) = sum(d.i, d.n);
    return {name, "fully_connected", {out, out_shape}, stages, {{"r", r}}};
}

}  // namespace cnngen
