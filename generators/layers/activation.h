#pragma once
#include "tensor.h"

namespace cnngen {

enum class ActivationKind { relu, leaky_relu, sigmoid, tanh, elu, softmax, clip, hardswish };
ActivationKind activation_kind_from_name(const std::string &layer, const std::string &name);
const char *activation_kind_name(ActivationKind kind);

struct ActivationParams {
    ActivationKind kind = ActivationKind::relu;
    float alpha = 0.01f;  // leaky ReLU negative slope; ELU scale (PyTorch defaults 0.01 and 1.0)
    float min = 0.0f, max = 6.0f;  // clip's bounds (ReLU6 by default, as MobileNetV2 uses it)
};

// The expression an element-wise activation (not softmax) computes of `x`: shared by the
// activation layer and the layers that apply one after themselves (add).
Halide::Expr elementwise_activation(const ActivationParams &p, const Halide::Expr &x);

// Element-wise on any rank; hardswish is x * relu6(x + 3) / 6 (PyTorch's Hardswish); softmax normalizes over dimension 1 (C of NCHW, F of NF)
// and subtracts the maximum first so large logits cannot overflow.
Layer activation(const std::string &name, const Tensor &input, const ActivationParams &params);

// The Vars indexing a tensor of this rank, innermost first: (x, y, c, n) or (i, n).
std::vector<Halide::Var> dims_for_rank(const std::string &layer, int rank);

// max over `count` expressions as a balanced tree of pure max(): differentiable by autodiff.
Halide::Expr pure_maximum(int count, const std::function<Halide::Expr(int)> &term);

}  // namespace cnngen
