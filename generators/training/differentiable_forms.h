#pragma once
// Forms of layers that Halide 14's autodiff differentiates correctly where the forward
// algorithm everyone runs (layers/) is not one: kept here, beside the autodiff, so the forward
// algorithms stay the plain math.
#include "../layers/fully_connected.h"

namespace cnngen {

// fully_connected() on an image input reduces over its C-order flattening, indexed by div/mod,
// which autodiff cannot invert (its input gradient comes out wrong). This reduces over the
// input's (x, y, c) directly: the same values.
Layer fully_connected_differentiable(const std::string &name, const Tensor &input, const FullyConnectedParams &params,
                                     const ParamSource &source);

}  // namespace cnngen
