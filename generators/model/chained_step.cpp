// The training step as kernels the runtime chains (see pipelines.h). Each kernel is its
// own Halide pipeline over one layer, so schedules and autoschedulers see small pieces.
#include "../layers/errors.h"
#include "../layers/fixed_shape.h"
#include "../schedules/schedule.h"
#include "../training/gradients.h"
#include "pipeline_parts.h"
#include "pipelines.h"

using namespace Halide;

namespace cnngen {

namespace {

struct Kernel {
    PipelineRole role;
    int layer;  // -1 for the loss and the update
};

std::vector<ParameterInfo> parameters_of_layer(const ModelSpec &spec, int layer) {
    std::vector<ParameterInfo> own;
    for (const ParameterInfo &p : model_parameters(spec))
        if (p.name.rfind(spec.layers[size_t(layer)].name + ".", 0) == 0) own.push_back(p);
    return own;
}

// Backward runs down to the first layer; that one only has parameter gradients to give.
std::vector<Kernel> kernels_of(const ModelSpec &spec) {
    std::vector<Kernel> kernels;
    for (size_t k = 0; k < spec.layers.size(); ++k) kernels.push_back({PipelineRole::layer_forward, int(k)});
    kernels.push_back({PipelineRole::loss, -1});
    for (size_t k = spec.layers.size(); k-- > 0;)
        if (k > 0 || !parameters_of_layer(spec, 0).empty()) kernels.push_back({PipelineRole::layer_backward, int(k)});
    kernels.push_back({PipelineRole::sgd_update, -1});
    return kernels;
}

// The tensor entering layer `index` at this batch size (index = layer count: the logits),
// from the network built on placeholders.
Shape activation_shape(const ModelSpec &spec, int batch, size_t index) {
    const Shape image_shape{batch, spec.input[0], spec.input[1], spec.input[2]};
    if (index == 0) return image_shape;
    ParamSource placeholders = [](const std::string &name, const Shape &shape) {
        return zeros(identifier_for(name) + "_shape_only", int(shape.size()));
    };
    return build_network(spec, {zeros("shape_only_input", 4), image_shape}, placeholders).layers.at(index - 1)
        .output.shape;
}

void schedule_kernel(Pipeline &pipeline, const ModelSchedule &schedule, const std::vector<Layer> &layers,
                     const std::vector<Func> &outputs, const Target &target) {
    if (is_autoscheduler(schedule.base)) {
        autoschedule(pipeline, schedule.base, target);
        return;
    }
    schedule_model_layers(schedule, layers, target, /*fuse=*/false);
    schedule_gradients(schedule.base, outputs, forward_funcs(layers), target);
}

// One layer on an "input" buffer with its own parameters.
struct LayerKernelInputs {
    ImageParam input;
    Func input_value{"input_value"};
    ParameterInputs params;
    Layer layer;
};

LayerKernelInputs layer_inputs(const ModelSpec &spec, int batch, int index) {
    LayerKernelInputs in;
    const Shape shape = activation_shape(spec, batch, size_t(index));
    in.input = ImageParam(Float(32), int(shape.size()), "input");
    fix_shape(in.input, shape);
    in.input_value(_) = in.input(_);
    in.params = parameter_inputs(parameters_of_layer(spec, index));
    in.layer = build_layer(spec, size_t(index), {in.input_value, shape}, in.params.source(spec.path));
    return in;
}

Func named_copy(const std::string &name, const Func &source, const Shape &shape) {
    Func copy(name);
    copy(_) = source(_);
    fix_output_shape(copy, shape);
    return copy;
}

ModelPipeline layer_forward(const ModelSpec &spec, int batch, int index, const ModelSchedule &schedule,
                            const Target &target) {
    LayerKernelInputs in = layer_inputs(spec, batch, index);
    Func output = named_copy("output", in.layer.output.func, in.layer.output.shape);
    Pipeline pipeline(output);
    schedule_kernel(pipeline, schedule, {in.layer}, {output}, target);
    std::vector<Argument> args{in.input};
    for (const ImageParam &p : in.params.params) args.push_back(p);
    return {fmt::format("{}_{}_forward_b{}", spec.name, identifier_for(spec.layers[size_t(index)].name), batch),
            pipeline, args, PipelineRole::layer_forward, batch, index};
}

// d_input (not for the first layer) and d_<id> per parameter, from d_output: the
// vector-Jacobian product, by autodiff of sum(output * d_output).
ModelPipeline layer_backward(const ModelSpec &spec, int batch, int index, const ModelSchedule &schedule,
                             const Target &target) {
    LayerKernelInputs in = layer_inputs(spec, batch, index);
    const Shape &out_shape = in.layer.output.shape;
    ImageParam d_output(Float(32), int(out_shape.size()), "d_output");
    fix_shape(d_output, out_shape);
    Region domain;
    for (auto it = out_shape.rbegin(); it != out_shape.rend(); ++it) domain.push_back({0, *it});
    RDom r(domain);
    std::vector<Expr> at;
    for (int k = 0; k < r.dimensions(); ++k) at.push_back(r[k]);
    Func vjp("vjp");
    vjp() = sum(in.layer.output.func(at) * d_output(at));

    std::vector<Func> wrt = in.params.values;
    if (index > 0) wrt.insert(wrt.begin(), in.input_value);
    if (wrt.empty()) fail("{}: layer '{}' needs no backward kernel", spec.path, spec.layers[size_t(index)].name);
    const std::vector<Func> grads = gradients(vjp, wrt);
    std::vector<Func> outputs;
    if (index > 0) outputs.push_back(named_copy("d_input", grads[0], activation_shape(spec, batch, size_t(index))));
    for (size_t k = 0; k < in.params.info.size(); ++k)
        outputs.push_back(named_copy("d_" + identifier_for(in.params.info[k].name), grads[index > 0 ? k + 1 : k],
                                     in.params.info[k].shape));
    Pipeline pipeline(outputs);
    schedule_kernel(pipeline, schedule, {in.layer}, outputs, target);
    std::vector<Argument> args{in.input};
    for (const ImageParam &p : in.params.params) args.push_back(p);
    args.push_back(d_output);
    return {fmt::format("{}_{}_backward_b{}", spec.name, identifier_for(spec.layers[size_t(index)].name), batch),
            pipeline, args, PipelineRole::layer_backward, batch, index};
}

ModelPipeline loss_kernel(const ModelSpec &spec, int batch, const ModelSchedule &schedule, const Target &target) {
    const Shape logits_shape = activation_shape(spec, batch, spec.layers.size());
    ImageParam logits(Float(32), 2, "logits");
    fix_shape(logits, logits_shape);
    ImageParam labels(Int(32), 1, "labels");
    fix_shape(labels, {batch});
    Func logits_value("logits_value"), label_values("label_values");
    logits_value(_) = logits(_);
    label_values(_) = labels(_);
    Layer loss_layer = loss("loss_layer", {logits_value, logits_shape}, label_values, spec.loss);
    Func loss_value("loss");  // mean over the batch
    loss_value() = loss_layer.output.func();
    loss_value.set_estimates({});
    Func d_logits = named_copy("d_logits", gradients(loss_layer.output.func, {logits_value})[0], logits_shape);
    Pipeline pipeline({loss_value, d_logits});
    schedule_kernel(pipeline, schedule, {loss_layer}, {loss_value, d_logits}, target);
    return {fmt::format("{}_loss_b{}", spec.name, batch), pipeline, {logits, labels}, PipelineRole::loss, batch};
}

// Every parameter's update in one kernel: params, velocities, d_<id> -> <id>_next, <id>_velocity_next.
ModelPipeline sgd_kernel(const ModelSpec &spec, int batch, const ModelSchedule &schedule, const Target &target) {
    ParameterInputs in = parameter_inputs(model_parameters(spec));
    SgdScalars sgd;
    std::vector<ImageParam> velocities, grads;
    std::vector<Func> next_params, next_velocities;
    for (size_t k = 0; k < in.info.size(); ++k) {
        const std::string id = identifier_for(in.info[k].name);
        ImageParam velocity(Float(32), int(in.info[k].shape.size()), id + "_velocity");
        ImageParam grad(Float(32), int(in.info[k].shape.size()), "d_" + id);
        fix_shape(velocity, in.info[k].shape);
        fix_shape(grad, in.info[k].shape);
        Func grad_value(id + "_grad_value");
        grad_value(_) = grad(_);
        SgdOutputs next = sgd_update(in.info[k], in.params[k], velocity, grad_value, sgd.learning_rate, sgd.momentum,
                                     sgd.weight_decay);
        velocities.push_back(velocity);
        grads.push_back(grad);
        next_params.push_back(next.param_next);
        next_velocities.push_back(next.velocity_next);
    }
    std::vector<Func> outputs = next_params;
    outputs.insert(outputs.end(), next_velocities.begin(), next_velocities.end());
    Pipeline pipeline(outputs);
    schedule_kernel(pipeline, schedule, {}, outputs, target);
    std::vector<Argument> args;
    for (const ImageParam &p : in.params) args.push_back(p);
    for (const ImageParam &v : velocities) args.push_back(v);
    for (const ImageParam &g : grads) args.push_back(g);
    args.push_back(sgd.learning_rate);
    args.push_back(sgd.momentum);
    args.push_back(sgd.weight_decay);
    return {fmt::format("{}_sgd_update_b{}", spec.name, batch), pipeline, args, PipelineRole::sgd_update, batch};
}

}  // namespace

std::vector<std::string> chained_step_kernels(const ModelSpec &spec) {
    std::vector<std::string> names;
    for (const Kernel &k : kernels_of(spec))
        names.push_back(k.layer < 0 ? role_name(k.role) : spec.layers[size_t(k.layer)].name + " " + role_name(k.role));
    return names;
}

ModelPipeline chained_step_pipeline(const ModelSpec &spec, int batch, size_t kernel, const ModelSchedule &schedule,
                                    const Target &target) {
    check_target(schedule, target);
    const Kernel k = kernels_of(spec).at(kernel);
    switch (k.role) {
    case PipelineRole::layer_forward: return layer_forward(spec, batch, k.layer, schedule, target);
    case PipelineRole::layer_backward: return layer_backward(spec, batch, k.layer, schedule, target);
    case PipelineRole::loss: return loss_kernel(spec, batch, schedule, target);
    default: return sgd_kernel(spec, batch, schedule, target);
    }
}

}  // namespace cnngen
