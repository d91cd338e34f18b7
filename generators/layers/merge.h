#pragma once
// Layers that read several earlier layers: the joins of residual networks (add) and of
// Inception, DenseNet and SqueezeNet modules (concat).
#include "activation.h"

#include <optional>

namespace cnngen {

struct AddParams {
    std::optional<ActivationParams> activation;  // applied to the sum (ResNet's ReLU after the join)
};

struct ConcatParams {};  // along the channels (PyTorch's dim 1), of (N, C, H, W) or (N, F) inputs

// The element-wise sum of two or more inputs of one shape, then the activation if any.
Layer add(const std::string &name, const std::vector<Tensor> &inputs, const AddParams &params);
// Inputs side by side along dimension 1, in order.
Layer concat(const std::string &name, const std::vector<Tensor> &inputs, const ConcatParams &params);

// The output shapes; throw ConfigError naming `name` and the input that does not fit.
// `names` name the inputs in messages.
Shape add_output_shape(const std::string &name, const std::vector<Shape> &inputs, const std::vector<std::string> &names);
Shape concat_output_shape(const std::string &name, const std::vector<Shape> &inputs,
                          const std::vector<std::string> &names);

}  // namespace cnngen
