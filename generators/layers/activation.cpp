#include "activation.h"

#include "errors.h"

using namespace Halide;

namespace cnngen {

ActivationKind activation_kind_from_name(const std::string &layer, const std::string &name) {
    static const std::map<std::string, ActivationKind> kinds = {
        {"relu", ActivationKind::relu},       {"leaky_relu", ActivationKind::leaky_relu},
        {"sigmoid", ActivationKind::sigmoid}, {"tanh", ActivationKind::tanh},
        {"elu", ActivationKind::elu},         {"softmax", ActivationKind::softmax},
        {"clip", ActivationKind::clip},       {"relu6", ActivationKind::clip},
        {"hardswish", ActivationKind::hardswish}};
    auto it = kinds.find(name);
    if (it == kinds.end())
        fail("{}: activation '{}' unknown, expected one of relu, leaky_relu, sigmoid, tanh, elu, softmax, clip, relu6, "
             "hardswish",
             layer, name);
    return it->second;
}

const char *activation_kind_name(ActivationKind kind) {
    switch (kind) {
    case ActivationKind::relu: return "relu";
    case ActivationKind::leaky_relu: return "leaky_relu";
    case ActivationKind::sigmoid: return "sigmoid";
    case ActivationKind::tanh: return "tanh";
    case ActivationKind::elu: return "elu";
    case ActivationKind::softmax: return "softmax";
    case ActivationKind::clip: return "clip";
    case ActivationKind::hardswish: return "hardswish";
    }
    return "?";
}

std::vector<Var> dims_for_rank(const std::string &layer, int rank) {
    Dims d;
    if (rank == 4) return {d.x, d.y, d.c, d.n};
    if (rank == 2) return {d.i, d.n};
    fail("{}: expected a 2-D (N, F) or 4-D (N, C, H, W) tensor, got rank {}", layer, rank);
}

Expr pure_maximum(int count, const std::function<Expr(int)> &term) {
    std::vector<Expr> level;
    for (int k = 0; k < count; ++k) level.push_back(term(k));
    while (level.size() > 1) {
        std::vector<Expr> next;
        for (size_t k = 0; k + 1 < level.size(); k += 2) next.push_back(max(level[k], level[k + 1]));
        if (level.size() % 2) next.push_back(level.back());
        level.swap(next);
    }
    return level.front();
}

namespace {

// tanh as Eigen's and ONNX Runtime's rational approximation: odd polynomial of degree 13
// over even degree 6, clamped where float tanh is already +-1. Halide 14 lowers tanh() to
// a scalar libm call per element, which took most of a tanh network's time; this one
// vectorizes. Measured against double tanh on [-12, 12]: at most 3.5e-7 absolute error
// (test_elementwise checks 5e-7). The tiny-argument branch keeps tanh(x) = x exact there.
Expr rational_tanh(const Expr &x) {
    const float numerator[] = {4.89352455891786e-03f, 6.37261928875436e-04f, 1.48572235717979e-05f,
                               5.12229709037114e-08f, -8.60467152213735e-11f, 2.00018790482477e-13f,
                               -2.76076847742355e-16f};
    const float denominator[] = {4.89352518554385e-03f, 2.26843463243900e-03f, 1.18534705686654e-04f,
                                 1.19825839466702e-06f};
    Expr clamped = clamp(x, -7.90531110763549805f, 7.90531110763549805f);
    Expr x2 = clamped * clamped;
    Expr p = numerator[6];
    for (int k = 5; k >= 0; --k) p = p * x2 + numerator[k];
    Expr q = denominator[3];
    for (int k = 2; k >= 0; --k) q = q * x2 + denominator[k];
    return select(abs(x) < 0.0004f, x, clamped * p / q);
}

Layer softmax(const std::string &name, const Tensor &input, const std::vector<Var> &v) {
    // The normalized dimension is dimension 1 in PyTorch order, i.e. second from last in Halide's.
    const size_t axis = v.size() - 2;
    const int classes = input.shape[1];
    auto at = [&](Expr k) {
        std::vector<Expr> args(v.begin(), v.end());
        args[axis] = k;
        return input.func(args);
    };
    std::vector<Var> outer = v;
    outer.erase(outer.begin() + axis);
    std::vector<Expr> outer_args(outer.begin(), outer.end());

    Func row_max(name + "_max");
    row_max(outer) = pure_maximum(classes, [&](int k) { return at(k); });
    Func shifted_exp(name + "_exp");
    shifted_exp(v) = exp(input.func(v) - row_max(outer_args));
    RDom r(0, classes, name + "_r");
    std::vector<Expr> sum_args(v.begin(), v.end());
    sum_args[axis] = r;
    Func denominator(name + "_sum");
    denominator(outer) = sum(shifted_exp(sum_args));
    Func out(name);
    out(v) = shifted_exp(v) / denominator(outer_args);
    return {name, "softmax", {out, input.shape}, {{"max", row_max}, {"sum", denominator}}, {{"r", r}}};
}

}  // namespace

Expr elementwise_activation(const ActivationParams &p, const Expr &in) {
    switch (p.kind) {
    case ActivationKind::relu: return max(in, 0.0f);
    case ActivationKind::leaky_relu: return select(in > 0.0f, in, p.alpha * in);
    case ActivationKind::sigmoid: return 1.0f / (1.0f + exp(-in));
    case ActivationKind::tanh: return rational_tanh(in);
    case ActivationKind::elu: return select(in > 0.0f, in, p.alpha * (exp(in) - 1.0f));
    case ActivationKind::clip: return clamp(in, p.min, p.max);
    case ActivationKind::hardswish: return in * clamp(in + 3.0f, 0.0f, 6.0f) * (1.0f / 6.0f);
    case ActivationKind::softmax: break;
    }
    fail("softmax is not element-wise");
}

Layer activation(const std::string &name, const Tensor &input, const ActivationParams &p) {
    const std::vector<Var> v = dims_for_rank(name, int(input.shape.size()));
    if (p.kind == ActivationKind::softmax) return softmax(name, input, v);
    if (p.kind == ActivationKind::clip && !(p.min <= p.max))
        fail("{}: clip's min {} is above its max {}", name, p.min, p.max);
    Func out(name);
    out(v) = elementwise_activation(p, input.func(v));
    Layer layer{name, "activation", {out, input.shape}, {}, {}};
    // Whose hand-derived gradient reads the output alone (layers/backward.cpp), never the input:
    // a training step need not store the input (a convolution's tiles may apply it).
    const bool from_output = p.kind == ActivationKind::relu || p.kind == ActivationKind::sigmoid ||
                             p.kind == ActivationKind::tanh;
    if (from_output) layer.sizes["gradient_from_output"] = 1;
    return layer;
}

}  // namespace cnngen
