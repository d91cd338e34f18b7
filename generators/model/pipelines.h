#pragma once
// The Halide pipelines a model library holds: inference for one batch size, and one
// SGD training step (forward, loss, autodiff backward, momentum update).
#include "spec.h"

namespace cnngen {

struct ModelPipeline {
    std::string function_name;
    Halide::Pipeline pipeline;
    std::vector<Halide::Argument> arguments;  // inputs, in the generated function's order
};

// Argument names, shared with the runtime: images, labels, <id>, <id>_velocity,
// learning_rate, momentum, weight_decay -> loss, logits, <id>_next, <id>_velocity_next.
ModelPipeline forward_pipeline(const ModelSpec &spec, int batch, const std::string &schedule,
                               const Halide::Target &target);
ModelPipeline train_step_pipeline(const ModelSpec &spec, int batch, const std::string &schedule,
                                  const Halide::Target &target);

}  // namespace cnngen
