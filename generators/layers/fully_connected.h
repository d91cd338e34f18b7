#pragma once
#include "tensor.h"

namespace cnngen {

struct FullyConnectedParams {
    int out_features = 1;
    bool bias = true;
};

// out[n, o] = bias[o] + sum_k weight[o, k] * in[n, k], weight [out, in] as in PyTorch's Linear.
// A 4-D input is flattened in C order (k = (c*H + y)*W + x), like torch.flatten(x, 1).
// (N, out_features) for a 2-D or 4-D input; throws ConfigError naming `name` otherwise.
Shape fully_connected_output_shape(const std::string &name, const Shape &input, const FullyConnectedParams &params);
Layer fully_connected(const std::string &name, const Tensor &input, const FullyConnectedParams &params,
                      const ParamSource &source);

}  // namespace cnngen
