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

BatchNormTensors batch_norm_tensors(const std::string &name, int channels, const ParamSource &source) {
    const Shape shape{channels};
    return {source(name + ".weight", shape), source(name + ".bias", shape), source(name + ".running_mean", shape),
            source(name + ".running_var", shape)};
}

ChannelReduction channel_reduction(const std::string &name, const Shape &shape) {
    ChannelReduction reduction;
    reduction.vars = dims_for_rank(name, int(shape.size()));
    reduction.c = reduction.vars[reduction.vars.size() - 2];
    reduction.r = shape.size() == 4 ? RDom(0, shape[3], 0, shape[2], 0, shape[0], name + "_r")
                                    : RDom(0, shape[0], name + "_r");
    return reduction;
}

Expr ChannelReduction::element(const Func &f) const {
    return vars.size() == 4 ? f(r.x, r.y, c, r.z) : f(c, r.x);
}

Layer batch_norm(const std::string &name, const Tensor &input, const BatchNormParams &p, const ParamSource &source) {
    const Shape shape = batch_norm_output_shape(name, input.shape, p);
    const BatchNormTensors t = batch_norm_tensors(name, shape[1], source);
    const std::vector<Var> v = dims_for_rank(name, int(shape.size()));
    const Var c = v[v.size() - 2];
    // Per channel once: y = x * scale + shift.
    Func scale(name + "_scale"), shift(name + "_shift");
    scale(c) = t.weight(c) / sqrt(t.running_var(c) + p.epsilon);
    shift(c) = t.bias(c) - t.running_mean(c) * scale(c);
    Func out(name);
    out(v) = input.func(v) * scale(c) + shift(c);
    return {name, "batch_norm", {out, shape}, {{"scale", scale}, {"shift", shift}}, {}};
}

int batch_norm_count(const Shape &input) { return int(element_count(input) / input.at(1)); }

Layer batch_norm_training(const std::string &name, const Tensor &input, const BatchNormParams &p,
                          const ParamSource &source) {
    const Shape shape = batch_norm_output_shape(name, input.shape, p);
    const BatchNormTensors t = batch_norm_tensors(name, shape[1], source);
    const ChannelReduction reduction = channel_reduction(name, shape);
    const std::vector<Var> &v = reduction.vars;
    const Var c = reduction.c;
    const RDom &r = reduction.r;
    const auto element = [&](const Func &f) { return reduction.element(f); };
    Func weight = t.weight, bias = t.bias, running_mean = t.running_mean, running_var = t.running_var;
    const float count = float(batch_norm_count(shape));
    // Two passes, the mean first: the variance never subtracts two large sums. Both sum in
    // p.sum_type, double: a float running sum over 64 x 28 x 28 elements per channel drifted
    // resnet_small's gradients by 4e-3 (the backward pass's centring cancels), double by 1e-3.
    Func mean_sum(name + "_mean_sum"), mean(name + "_mean");
    mean_sum(c) = cast(p.sum_type, 0);
    mean_sum(c) += cast(p.sum_type, element(input.func));
    mean(c) = cast<float>(mean_sum(c) / count);
    Func centered(name + "_centered");
    centered(v) = input.func(v) - mean(c);
    Func square_sum(name + "_square_sum"), variance(name + "_variance"), inv_std(name + "_inv_std");
    square_sum(c) = cast(p.sum_type, 0);
    square_sum(c) += cast(p.sum_type, element(centered) * element(centered));
    variance(c) = cast<float>(square_sum(c) / count);
    inv_std(c) = 1.0f / sqrt(variance(c) + p.epsilon);
    Func out(name);
    out(v) = centered(v) * (inv_std(c) * weight(c)) + bias(c);
    Layer layer{name, "batch_norm", {out, shape}, {{"mean", mean}, {"mean_sum", mean_sum}, {"square_sum", square_sum},
                                                   {"inv_std", inv_std}},
                {{"r", r}}};
    Func next_mean(name + "_next_running_mean"), next_var(name + "_next_running_var");
    next_mean(c) = (1.0f - p.momentum) * running_mean(c) + p.momentum * mean(c);
    next_var(c) = (1.0f - p.momentum) * running_var(c) + p.momentum * variance(c) * (count / std::max(1.0f, count - 1.0f));
    layer.state_updates = {{name + ".running_mean", next_mean}, {name + ".running_var", next_var}};
    return layer;
}

namespace {

Expr u32(uint32_t value) { return cast<uint32_t>(Expr(int32_t(value))); }

}  // namespace

Expr dropout_scale(const std::vector<Expr> &at, const Expr &seed, float p) {
    Expr h = cast<uint32_t>(seed) * u32(0x9E3779B9u);
    for (const Expr &coordinate : at) {
        h = (h ^ cast<uint32_t>(coordinate)) * u32(0x85EBCA6Bu);
        h = h ^ (h >> 15);
    }
    h = h ^ (h >> 16);
    h = h * u32(0xC2B2AE35u);
    h = h ^ (h >> 13);
    const Expr fraction = cast<float>(h >> 8) * (1.0f / 16777216.0f);
    return select(fraction >= p, 1.0f / (1.0f - p), 0.0f);
}

Layer dropout(const std::string &name, const Tensor &input, const DropoutParams &p) {
    if (!(p.p >= 0.0f && p.p < 1.0f)) fail("{}: dropout's p {} must be in [0, 1)", name, p.p);
    const std::vector<Var> v = dims_for_rank(name, int(input.shape.size()));
    Func out(name);
    if (p.seed.defined()) {
        out(v) = input.func(v) * dropout_scale(std::vector<Expr>(v.begin(), v.end()), p.seed, p.p);
    } else {
        out(v) = input.func(v);
    }
    return {name, "dropout", {out, input.shape}, {}, {}};
}

}  // namespace cnngen
