#pragma once
// Inputs and reference outputs for the AOT layer libraries built in CMakeLists.txt;
// the configurations here mirror the PARAMS given to the generators there.
#include "reference/reference.h"

#include <HalideBuffer.h>

#include <map>
#include <string>

namespace aot {

using Buffer = Halide::Runtime::Buffer<float>;

// PyTorch-order tensor -> Halide runtime buffer (reversed dimensions), marked host-dirty.
Buffer to_buffer(const reference::Tensor &t);
Buffer output_for(const std::vector<int> &shape);
// Copies back from the device if needed.
reference::Tensor to_tensor(Buffer &b);

struct Fixture {
    std::map<std::string, reference::Tensor> inputs;  // by generator input name
    std::vector<int> labels;                          // loss fixtures
    reference::Tensor expected;
};

// Names match the CMake configuration lists: lenet_conv1, odd_conv, lenet_pool, avg_pool,
// relu, lrn_inter, lrn_intra, lenet_fc1, ce_loss, huber_loss.
Fixture fixture(const std::string &config);

constexpr double kTolerance = 1e-5;

}  // namespace aot
