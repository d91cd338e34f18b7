#pragma once
// Hand-derived backward passes (notes 001, section 3): given the loss gradient with
// respect to a layer's output, the gradients with respect to its input and parameters.
// Convolution backward is a convolution of the output gradient with the flipped kernel;
// max pooling routes each output gradient to its window's (first) maximum. Layers without
// a derivation here (p-norm pooling, softmax) are trained with Halide's autodiff.
#include "activation.h"
#include "conv2d.h"
#include "fully_connected.h"
#include "loss.h"
#include "lrn.h"
#include "merge.h"
#include "normalization.h"
#include "pooling.h"

namespace cnngen {

struct Gradients {
    std::string name;  // the forward layer's
    std::string kind;  // "conv2d", "pool2d", "activation", "lrn", "fully_connected", "loss", "add", "concat",
                       // "batch_norm", "global_avg_pool", "dropout" or "gradient_sum"
    Tensor d_output;   // what the layer received
    Tensor d_input;    // func undefined when not requested
    std::vector<Tensor> d_inputs;  // layers with several inputs (add, concat): one per input, in order
    int flat_features = 0;  // fully_connected: input features per sample
    Shape weight_shape;     // conv2d: PyTorch order, so schedules can bound the gradient
    int groups = 1;         // conv2d: channel groups (a group's input channels are weight_shape[1])
    std::map<std::string, Halide::Func> d_params;  // by parameter name (conv1.weight)
    // Named Funcs and reductions for schedules: d_input_sum, d_weight_sum, d_output_padded, ...
    std::map<std::string, Halide::Func> stages;
    std::map<std::string, Halide::RDom> reductions;
};

// The gradients with respect to each input: d_inputs, or d_input alone.
std::vector<Tensor> input_gradients(const Gradients &g);

bool has_manual_backward(const Pool2dParams &p);
bool has_manual_backward(const ActivationParams &p);

Gradients conv2d_backward(const std::string &name, const Tensor &input, const Conv2dParams &p,
                          const ParamSource &source, const Tensor &d_output, bool want_input);
Gradients pool2d_backward(const std::string &name, const Tensor &input, const Pool2dParams &p, const Tensor &d_output);
// `output` is the forward layer's output (sigmoid, tanh and ELU reuse it).
Gradients activation_backward(const std::string &name, const Tensor &input, const ActivationParams &p,
                              const Tensor &output, const Tensor &d_output);
// add: each input receives d_output (through the activation's derivative, if any);
// concat: each input its channel range of d_output; global_avg_pool: d_output / (H W) everywhere.
Gradients add_backward(const std::string &name, const std::vector<Tensor> &inputs, const AddParams &p,
                       const Tensor &output, const Tensor &d_output);
Gradients concat_backward(const std::string &name, const std::vector<Tensor> &inputs, const Tensor &d_output);
Gradients global_avg_pool_backward(const std::string &name, const Tensor &input, const Tensor &d_output);
// dropout while training: d_output through the forward's mask and scale (recomputed from the seed).
Gradients dropout_backward(const std::string &name, const Tensor &input, const DropoutParams &p, const Tensor &d_output);
// batch_norm with batch statistics (`forward` is batch_norm_training's layer, whose mean and
// inv_std it reads): with x^ = (x - mean) inv_std and M elements per channel,
//   dL/dx = weight inv_std / M (M dy - sum dy - x^ sum dy x^), dL/dweight = sum dy x^, dL/dbias = sum dy.
Gradients batch_norm_backward(const std::string &name, const Tensor &input, const Layer &forward,
                              const ParamSource &source, const Tensor &d_output,
                              Halide::Type sum_type = Halide::Float(64));
// The sum of the gradients a forked activation receives from its readers.
Gradients gradient_sum(const std::string &name, const std::vector<Tensor> &contributions);
Gradients lrn_backward(const std::string &name, const Tensor &input, const LrnParams &p, const Tensor &d_output);
Gradients fully_connected_backward(const std::string &name, const Tensor &input, const FullyConnectedParams &p,
                                   const ParamSource &source, const Tensor &d_output, bool want_input);
// The loss's gradient with respect to the prediction, times the scalar `d_output`. Written out
// rather than left to autodiff, which would walk the whole network behind the prediction.
Gradients loss_backward(const std::string &name, const Tensor &prediction, const Halide::Func &target,
                        const LossParams &p, const Tensor &d_output);

}  // namespace cnngen
