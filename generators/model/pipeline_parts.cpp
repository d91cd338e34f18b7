#include "pipeline_parts.h"

#include "../layers/errors.h"
#include "../layers/fixed_shape.h"
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
    if (schedule.base == "cuda" && !target.has_feature(Target::CUDA))
        fail("cnngen build: schedule 'cuda' needs a CUDA target (e.g. host-cuda-cuda_capability_80), got {}",
             target.to_string());
}

std::set<std::string> forward_funcs(const std::vector<Layer> &layers) {
    std::set<std::string> names;
    for (const Layer &layer : layers) {
        names.insert(layer.output.func.name());
        for (const auto &[role, stage] : layer.stages) names.insert(stage.name());
    }
    return names;
}

ParameterInputs parameter_inputs(const std::vector<ParameterInfo> &info) {
    ParameterInputs in;
    in.info = info;
    for (const ParameterInfo &p : info) {
        ImageParam param(Float(32), int(p.shape.size()), identifier_for(p.name));
        fix_shape(param, p.shape);
        Func value(identifier_for(p.name) + "_value");
        value(_) = param(_);
        in.params.push_back(param);
        in.values.push_back(value);
    }
    return in;
}

ParamSource ParameterInputs::source(const std::string &spec_path) const {
    return [info = info, values = values, spec_path](const std::string &name, const Shape &) {
        for (size_t k = 0; k < info.size(); ++k)
            if (info[k].name == name) return values[k];
        fail("{}: parameter '{}' was not declared", spec_path, name);
    };
}

SgdOutputs sgd_update(const ParameterInfo &info, const ImageParam &param, const ImageParam &velocity,
                      const Func &gradient, const Expr &learning_rate, const Expr &momentum, const Expr &weight_decay) {
    const std::string id = identifier_for(info.name);
    SgdOutputs out{Func(id + "_next"), Func(id + "_velocity_next")};
    out.velocity_next(_) = momentum * velocity(_) + gradient(_) + weight_decay * param(_);
    out.param_next(_) = param(_) - learning_rate * out.velocity_next(_);
    fix_output_shape(out.velocity_next, info.shape);
    fix_output_shape(out.param_next, info.shape);
    return out;
}

SgdScalars::SgdScalars() {
    learning_rate.set_estimate(0.01f);
    momentum.set_estimate(0.9f);
    weight_decay.set_estimate(0.0f);
}

}  // namespace cnngen
