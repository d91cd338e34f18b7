#include "differentiable_forms.h"

using namespace Halide;

namespace cnngen {

Layer fully_connected_differentiable(const std::string &name, const Tensor &input, const FullyConnectedParams &p,
                                     const ParamSource &source) {
    if (input.shape.size() != 4) return fully_connected(name, input, p, source);
    const Shape out_shape = fully_connected_output_shape(name, input.shape, p);
    const int channels = input.shape[1], height = input.shape[2], width = input.shape[3];
    Dims d;
    Func weight = source(name + ".weight", {p.out_features, channels * height * width});
    Func sum(name + "_sum");
    sum(d.i, d.n) = p.bias ? source(name + ".bias", {p.out_features})(d.i) : Expr(0.0f);
    RDom r(0, width, 0, height, 0, channels, name + "_r");
    sum(d.i, d.n) += weight((r.z * height + r.y) * width + r.x, d.i) * input.func(r.x, r.y, r.z, d.n);
    Func out(name);
    out(d.i, d.n) = sum(d.i, d.n);
    return {name, "fully_connected", {out, out_shape}, {{"sum", sum}, {"weight", weight}}, {{"r", r}}};
}

}  // namespace cnngen
