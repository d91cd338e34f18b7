#pragma once
// Runs layer algorithms through Halide's JIT with a chosen schedule, so the
// hyperparameter grid needs no ahead-of-time build per configuration.
#include "reference/reference.h"

#include <layers/tensor.h>

#include <functional>
#include <map>
#include <random>

namespace testing_support {

using reference::random_tensor;
using reference::relative_error;
using reference::tensor_from;

// Reverses dimensions (NCHW -> x, y, c, n), converting to float.
Halide::Buffer<float> to_halide(const reference::Tensor &t);
reference::Tensor from_halide(const Halide::Buffer<float> &b);

// Learnable tensors by state_dict name; doubles as the ParamSource layers read.
struct Params {
    std::map<std::string, reference::Tensor> tensors;
    std::map<std::string, Halide::Buffer<float>> buffers;
    cnngen::ParamSource source();
};

using Builder = std::function<cnngen::Layer(const cnngen::Tensor &input, const cnngen::ParamSource &)>;

// Builds the layer on `input`, applies `schedule` (naive, cpu, or an autoscheduler) and realizes it.
reference::Tensor run_layer(const Builder &build, const reference::Tensor &input, Params &params,
                            const std::string &schedule);

// The same for a layer on several inputs (add, concat).
using JoinBuilder = std::function<cnngen::Layer(const std::vector<cnngen::Tensor> &inputs)>;
reference::Tensor run_join(const JoinBuilder &build, const std::vector<reference::Tensor> &inputs,
                           const std::string &schedule);

}  // namespace testing_support
