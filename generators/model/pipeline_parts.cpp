#include "pipeline_parts.h"

#include "../layers/errors.h"
#include "../layers/fixed_shape.h"
#include "../layers/winograd.h"
#include "../schedules/schedule.h"

using namespace Halide;

namespace cnngen {

void fix_output_shape(Func f, const Shape &shape) {
    OutputImageParam output = f.output_buffer();
    fix_shape(output, shape);
    Region estimates;
    for (auto it = shape.rbegin(); it != shape.rend(); ++it) estimates.push_back({0, *it});
    f.set_estimates(estimates);
}

void check_target(const ModelSchedule &schedule, const Target &target) {
    check_schedule_name("cnngen build", schedule.base);
    if (is_gpu_schedule(schedule.base) && !target.has_gpu_feature())
        fail("cnngen build: schedule '{}' needs a GPU target (host-cuda-cuda_capability_80, host-opencl), got {}",
             schedule.base, target.to_string());
}

ImageParam planned_input(const ModelPlan &plan, const PlannedArgument &a, int batch) {
    Shape shape;
    Type type = Float(32);
    switch (a.role) {
    case ArgumentRole::activation:
    case ArgumentRole::d_activation: shape = plan.activation_shape(a.index, batch); break;
    case ArgumentRole::labels:
        shape = {batch};
        type = Int(32);
        break;
    case ArgumentRole::parameter:
    case ArgumentRole::velocity:
    case ArgumentRole::gradient: shape = plan.parameters.at(size_t(a.index)).shape; break;
    case ArgumentRole::packed_parameter: shape = plan.packed_shape(a.index); break;
    default: fail("{}: argument role {} is not a buffer input", plan.spec.path, argument_role_name(a.role));
    }
    ImageParam param(type, int(shape.size()), argument_name(plan, a));
    fix_shape(param, shape);
    return param;
}

ParameterInputs parameter_inputs(const ModelPlan &plan, const std::vector<int> &indices, bool packed) {
    ParameterInputs in;
    for (int k : indices) {
        const ParameterInfo &p = plan.parameters.at(size_t(k));
        in.info.push_back(p);
        const bool read_packed = packed && p.packed_block;
        ImageParam param =
            planned_input(plan, {read_packed ? ArgumentRole::packed_parameter : ArgumentRole::parameter, k}, 0);
        Func value(p.identifier + "_value");
        if (read_packed && p.winograd_tile) {
            // Transformed for Winograd's algorithm: the layer indexes U as (ax, ay, ci, co).
            Var ax("ax"), ay("ay"), ci("ci"), co("co");
            value(ax, ay, ci, co) = param(co % p.packed_block, ci, ax, ay, co / p.packed_block);
        } else if (read_packed) {
            // The layer indexes the weights as ever, (kx, ky, ci, co); the buffer holds them
            // as (co within its block, kx, ky, ci, block).
            Var kx("kx"), ky("ky"), ci("ci"), co("co");
            value(kx, ky, ci, co) = param(co % p.packed_block, kx, ky, ci, co / p.packed_block);
        } else {
            value(_) = param(_);
        }
        in.params.push_back(param);
        in.values.push_back(value);
    }
    return in;
}

ParamSource ParameterInputs::source(const std::string &spec_path) const {
    return [info = info, values = values, spec_path](const std::string &name, const Shape &shape) {
        for (size_t k = 0; k < info.size(); ++k) {
            if (info[k].name != name) continue;
            // The plan and the layer builders each derive parameter shapes; they must agree.
            const Shape &plain = info[k].shape;
            const int tile = info[k].winograd_tile;
            if (tile && shape == winograd_weight_shape(plain[0], plain[1], tile)) return values[k];
            if (info[k].shape != shape)
                fail("internal error: parameter '{}': the layer asks for shape {}, the plan has {}", name,
                     shape_string(shape), shape_string(info[k].shape));
            return values[k];
        }
        fail("{}: parameter '{}' was not declared", spec_path, name);
    };
}

SgdOutputs sgd_update(const ModelPlan &plan, int parameter, const ImageParam &param, const ImageParam &velocity,
                      const Func &gradient, const Expr &learning_rate, const Expr &momentum, const Expr &weight_decay,
                      const Func &state_update) {
    const ParameterInfo &info = plan.parameters.at(size_t(parameter));
    const Shape &shape = info.shape;
    SgdOutputs out{Func(argument_name(plan, {ArgumentRole::next_parameter, parameter})),
                   Func(argument_name(plan, {ArgumentRole::next_velocity, parameter}))};
    if (info.trainable) {
        out.velocity_next(_) = momentum * velocity(_) + gradient(_) + weight_decay * param(_);
        out.param_next(_) = param(_) - learning_rate * out.velocity_next(_);
    } else {
        out.velocity_next(_) = velocity(_);
        out.param_next(_) = state_update.defined() ? state_update(_) : param(_);
    }
    fix_output_shape(out.velocity_next, shape);
    fix_output_shape(out.param_next, shape);
    return out;
}

SgdScalars::SgdScalars() {
    learning_rate.set_estimate(0.01f);
    momentum.set_estimate(0.9f);
    weight_decay.set_estimate(0.0f);
}

}  // namespace cnngen
