#pragma once
// Runs layer algorithms through Halide's JIT with a chosen schedule, so the
// hyperparameter grid needs no ahead-of-time build per configuration.
#include "reference/reference.h"

#include <layers/tensor.h>

#include <functional>
#include <map>
#include <random>

namespace testing_support {

reference::Tensor random_tensor(std::vector<int> shape, std::mt19937 &rng, double low = -1, double high = 1);
reference::Tensor tensor_from(std::vector<int> shape, std::vector<double> values);

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

// Largest |a - b| divided by max(1, largest |b|): the relative bound the tests state.
double relative_error(const reference::Tensor &a, const reference::Tensor &b);

}  // namespace testing_support
