#pragma once
// The Halide pipelines a model library holds: inference for one batch size, and one
// SGD training step (forward, loss, autodiff backward, momentum update).
#include "../schedules/model_schedule.h"
#include "spec.h"

namespace cnngen {

// What a generated function does, as the runtime's PipelineKind names it.
enum class PipelineRole { forward, train_step, layer_forward, layer_backward, loss, sgd_update };
const char *role_name(PipelineRole role);

struct ModelPipeline {
    std::string function_name;
    Halide::Pipeline pipeline;
    std::vector<Halide::Argument> arguments;  // inputs, in the generated function's order
    PipelineRole role = PipelineRole::forward;
    int batch = 0;
    int layer = -1;  // index into the spec's layers, for per-layer kernels
};

// Argument names, shared with the runtime: images, labels, <id>, <id>_velocity,
// learning_rate, momentum, weight_decay -> loss, logits, <id>_next, <id>_velocity_next.
ModelPipeline forward_pipeline(const ModelSpec &spec, int batch, const ModelSchedule &schedule,
                               const Halide::Target &target);
ModelPipeline train_step_pipeline(const ModelSpec &spec, int batch, const ModelSchedule &schedule,
                                  const Halide::Target &target);

// The training step as separate kernels the runtime chains: per layer a forward
// (input, params -> output) and a backward (input, params, d_output -> d_input, d_<id>),
// then the loss (logits, labels -> loss, d_logits) and one SGD update over every
// parameter. Same arithmetic as the fused step. Indexed like `chained_step_kernels`.
std::vector<std::string> chained_step_kernels(const ModelSpec &spec);
ModelPipeline chained_step_pipeline(const ModelSpec &spec, int batch, size_t kernel, const ModelSchedule &schedule,
                                    const Halide::Target &target);

}  // namespace cnngen
