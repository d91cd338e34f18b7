#pragma once
// The Halide pipeline of each function the plan lists: inference for one batch size, the fused
// SGD step (forward, loss, backward, momentum update), or one kernel of the chained step.
#include "../schedules/model_schedule.h"
#include "plan.h"

namespace cnngen {

struct ModelPipeline {
    Halide::Pipeline pipeline;
    std::vector<Halide::Argument> arguments;  // the inputs, in the plan's order
};

// Builds and schedules `function` for `target`. Its arguments are named by argument_name()
// and checked against the plan, inputs and outputs, position by position.
ModelPipeline build_pipeline(const ModelPlan &plan, const PlannedFunction &function, const ModelSchedule &schedule,
                             const Halide::Target &target);

}  // namespace cnngen
