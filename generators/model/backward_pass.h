#pragma once
// The backward pass of a whole network, layer by layer from the loss gradient to the first
// layer, with the hand-derived gradients of layers/backward.h. Networks with a layer that
// has none (LRN, grouped convolution, p-norm pooling, softmax) train with autodiff instead.
#include "pipeline_parts.h"

#include "../layers/backward.h"

namespace cnngen {

struct BackwardPass {
    std::vector<Halide::Func> parameter_gradients;  // in the plan's parameter order
    // Last layer first; an activation read by several layers gets a gradient_sum of what they
    // send back before its own layer's entry.
    std::vector<Gradients> layers;
    std::vector<std::vector<Tensor>> reads;  // what each of `layers` reads besides d_output
};

// `input` is the images tensor the network was built on, `params` the inputs it read.
BackwardPass backward_pass(const ModelSpec &spec, const Network &net, const Tensor &input,
                           const ParameterInputs &params, const Tensor &d_logits);

// Whether every layer, or this one, has a hand-derived backward.
bool has_manual_backward(const ModelSpec &spec);
bool has_manual_backward(const LayerSpec &layer);

// One layer's gradients, hand-derived, on its forward `inputs`.
Gradients layer_backward_pass(const ModelSpec &spec, size_t index, const Layer &forward,
                              const std::vector<Tensor> &inputs, const ParameterInputs &params, const Tensor &d_output,
                              bool want_input);

}  // namespace cnngen
