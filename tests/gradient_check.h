#pragma once
// Finite-difference checks of the autodiff gradients: the objective is a random
// projection of the layer output, differentiated numerically on the double-precision
// reference and by Halide on the float32 algorithm.
#include "jit_harness.h"

#include <layers/backward.h>

namespace testing_support {

using ReferenceForward =
    std::function<reference::Tensor(const reference::Tensor &input, std::map<std::string, reference::Tensor> &params)>;

// A layer's hand-derived backward (layers/backward.h) on the forward layer's input,
// parameters and output gradient.
using Backward = std::function<cnngen::Gradients(const cnngen::Tensor &input, const cnngen::ParamSource &source,
                                                 const cnngen::Layer &forward, const cnngen::Tensor &d_output)>;

struct GradientCase {
    std::string label;
    reference::Tensor input;
    Params params;
    Builder build;
    ReferenceForward forward;
    bool scalar_output = false;  // losses: the objective is the output itself
    Backward backward;           // set where the layer has a hand-derived backward
};

enum class GradientSource { autodiff, manual };

// Largest |halide - finite difference| / max(1, largest |finite difference|) over the
// checked coordinates of the input and every parameter.
double worst_gradient_error(GradientCase &c, const std::string &schedule, std::mt19937 &rng,
                            GradientSource source = GradientSource::autodiff);

}  // namespace testing_support
