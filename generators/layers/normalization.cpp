#include "normalization.h"

#include "activation.h"
#include "errors.h"

using namespace Halide;

namespace cnngen {

Shape batch_norm_output_shape(const std::string &name, const Shape &input, const BatchNormParams &p) {
    if (input.size() != 4 && input.size() != 2)
        fail("{}: batch_norm expects a 4-D (N, C, H, W) or 2-D (N, F) input, got {}", name, shape_string(input));
    if (!(p.epsilon > 0.0f)) fail("{}: batch_norm's epsilon {} must be positive", name, p.epsilon);
    if (!(p.momentum >= 0.0f && p.momentum <= 1.0f))
        fail("{}: batch_norm's momentum {} must be in [0, 1]", name, p.momentum);
    return input;
}

Layer batch_norm(const std::string &name, const Tensor &input, const BatchNormParams &p, const ParamSource &source) {
    const Shape shape = batch_norm_output_shape(name, input.shape, p);
    const Shape channels{shape[1]};
    Func weight = source(name + ".weight", channels), bias = source(name + ".bias", channels);
    Func mean = source(name + ".running_mean", channels), variance = source(name + ".running_var", channels);
    const std::vector<Var> v = dims_for_rank(name, int(shape.size()));
    const Var c = v[v.size() - 2];
    // Per channel once: y = x * scale + shift.
    Func scale(name + "_scale"), shift(name + "_shift");
    scale(c) = weight(c) / sqrt(variance(c) + p.epsilon);
    shift(c) = bias(c) - mean(c) * scale(c);
    Func out(name);
    out(v) = input.func(v) * scale(c) + shift(c);
    return {name, "batch_norm", {out, shape}, {{"scale", scale}, {"shift", shift}}, {}};
}

Layer dropout(const std::string &name, const Tensor &input, const DropoutParams &p) {
    if (!(p.p >= 0.0f && p.p < 1.0f)) fail("{}: dropout's p {} must be in [0, 1)", name, p.p);
    const std::vector<Var> v = dims_for_rank(name, int(input.shape.size()));
    Func out(name);
    out(v) = input.func(v);
    return {name, "dropout", {out, input.shape}, {}, {}};
}

}  // namespace cnngen
