#pragma once
// Pieces every pipeline builder shares, so the fused and the chained steps compute the same thing.
#include "../schedules/model_schedule.h"
#include "plan.h"

namespace cnngen {

// Output Funcs carry bounds on their output buffer and estimates on the Func itself.
void fix_output_shape(Halide::Func f, const Shape &shape);

// `schedule` can run on `target` (a GPU schedule needs a GPU target).
void check_target(const ModelSchedule &schedule, const Halide::Target &target);

// A float buffer input for a planned argument, named and shaped by the plan.
Halide::ImageParam planned_input(const ModelPlan &plan, const PlannedArgument &argument, int batch);

// The learnable tensors `indices` (into plan.parameters) as inputs, each read through a
// wrapper Func that autodiff can differentiate. `packed`: the tensors the plan packs are
// inputs in their packed layout (the inference functions'), the wrapper indexing them as
// the plain tensor.
struct ParameterInputs {
    std::vector<ParameterInfo> info;
    std::vector<Halide::ImageParam> params;
    std::vector<Halide::Func> values;
    // Serves build_network/build_layer by state_dict name.
    ParamSource source(const std::string &spec_path) const;
};
ParameterInputs parameter_inputs(const ModelPlan &plan, const std::vector<int> &indices, bool packed = false);

// SGD with momentum and L2 weight decay, as torch.optim.SGD computes it:
// v' = m v + g + wd p, p' = p - lr v'. State that is not trained (batch_norm's running
// statistics) takes `state_update` instead (the parameter itself when undefined), its velocity
// unchanged.
struct SgdOutputs {
    Halide::Func param_next, velocity_next;
};
SgdOutputs sgd_update(const ModelPlan &plan, int parameter, const Halide::ImageParam &param,
                      const Halide::ImageParam &velocity, const Halide::Func &gradient, const Halide::Expr &learning_rate,
                      const Halide::Expr &momentum, const Halide::Expr &weight_decay,
                      const Halide::Func &state_update = Halide::Func());

// The three SGD hyperparameters as scalar arguments, with estimates for autoschedulers.
struct SgdScalars {
    Halide::Param<float> learning_rate{"learning_rate"}, momentum{"momentum"}, weight_decay{"weight_decay"};
    SgdScalars();
};

}  // namespace cnngen
