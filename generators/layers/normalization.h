#pragma once
// Batch normalization (notes 002) as inference computes it: each channel scaled by its learned
// weight over the running standard deviation and shifted, PyTorch's BatchNorm2d in eval mode:
//   y = (x - running_mean) / sqrt(running_var + epsilon) * weight + bias.
// Tensors NAME.weight, NAME.bias, NAME.running_mean, NAME.running_var, each [C].
#include "tensor.h"

namespace cnngen {

struct BatchNormParams {
    float epsilon = 1e-5f;
    float momentum = 0.1f;  // PyTorch's: running = (1 - momentum) running + momentum batch
};

Layer batch_norm(const std::string &name, const Tensor &input, const BatchNormParams &params, const ParamSource &source);
Shape batch_norm_output_shape(const std::string &name, const Shape &input, const BatchNormParams &params);

// Dropout (notes 002): the identity at inference, as PyTorch's eval mode.
struct DropoutParams {
    float p = 0.5f;  // the probability of zeroing an element while training
};
Layer dropout(const std::string &name, const Tensor &input, const DropoutParams &params);

}  // namespace cnngen
