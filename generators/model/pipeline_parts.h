#pragma once
// Pieces the fused and the chained pipelines share, so both compute the same thing.
#include "../schedules/model_schedule.h"
#include "spec.h"

#include <set>

namespace cnngen {

// Output Funcs carry bounds on their output buffer and estimates on the Func itself.
void fix_output_shape(Halide::Func f, const Shape &shape);

// `schedule` can run on `target` (cuda needs a CUDA target).
void check_target(const ModelSchedule &schedule, const Halide::Target &target);

// Names of the Funcs the layers define, which schedule_layers has already scheduled.
std::set<std::string> forward_funcs(const std::vector<Layer> &layers);

// The learnable tensors as inputs: one ImageParam per tensor (named by its identifier),
// read through a wrapper Func that autodiff can differentiate.
struct ParameterInputs {
    std::vector<ParameterInfo> info;
    std::vector<Halide::ImageParam> params;
    std::vector<Halide::Func> values;
    // Serves build_network/build_layer; `only` limits it to some parameters.
    ParamSource source(const std::string &spec_path) const;
};
ParameterInputs parameter_inputs(const std::vector<ParameterInfo> &info);

// SGD with momentum and L2 weight decay, as torch.optim.SGD computes it:
// v' = m v + g + wd p, p' = p - lr v'. Names the outputs <id>_next, <id>_velocity_next.
struct SgdOutputs {
    Halide::Func param_next, velocity_next;
};
SgdOutputs sgd_update(const ParameterInfo &info, const Halide::ImageParam &param, const Halide::ImageParam &velocity,
                      const Halide::Func &gradient, const Halide::Expr &learning_rate, const Halide::Expr &momentum,
                      const Halide::Expr &weight_decay);

// The three SGD hyperparameters as scalar arguments, with estimates for autoschedulers.
struct SgdScalars {
    Halide::Param<float> learning_rate{"learning_rate"}, momentum{"momentum"}, weight_decay{"weight_decay"};
    SgdScalars();
};

}  // namespace cnngen
