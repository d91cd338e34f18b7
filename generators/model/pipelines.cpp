#include "pipelines.h"

#include "../layers/errors.h"
#include "../layers/fixed_shape.h"
#include "../schedules/schedule.h"
#include "../training/gradients.h"

using namespace Halide;

namespace cnngen {

namespace {

// Output Funcs carry bounds on their output buffer and estimates on the Func itself.
void fix_output_shape(Func f, const Shape &shape) {
    OutputImageParam output = f.output_buffer();
    fix_shape(output, shape);
    Region estimates;
    for (auto it = shape.rbegin(); it != shape.rend(); ++it) estimates.push_back({0, *it});
    f.set_estimates(estimates);
}

// The model's inputs: images plus one ImageParam per learnable tensor, each read
// through a wrapper Func that autodiff can differentiate.
struct ModelInputs {
    ImageParam images;
    std::vector<ParameterInfo> info;
    std::vector<ImageParam> params;
    std::vector<Func> param_values;
    Network net;
};

ModelInputs build(const ModelSpec &spec, int batch) {
    ModelInputs in;
    in.images = ImageParam(Float(32), 4, "images");  // NCHW, indexed (x, y, c, n)
    const Shape image_shape{batch, spec.input[0], spec.input[1], spec.input[2]};
    fix_shape(in.images, image_shape);
    in.info = model_parameters(spec);
    for (const ParameterInfo &p : in.info) {
        ImageParam param(Float(32), int(p.shape.size()), identifier_for(p.name));
        fix_shape(param, p.shape);
        Func value(identifier_for(p.name) + "_value");
        value(_) = param(_);
        in.params.push_back(param);
        in.param_values.push_back(value);
    }
    ParamSource source = [&](const std::string &name, const Shape &) {
        for (size_t k = 0; k < in.info.size(); ++k)
            if (in.info[k].name == name) return in.param_values[k];
        fail("{}: parameter '{}' was not declared", spec.path, name);
    };
    Func images("images_value");
    images(_) = in.images(_);
    in.net = build_network(spec, {images, image_shape}, source);
    return in;
}

void check_target(const std::string &schedule, const Target &target) {
    check_schedule_name("cnngen build", schedule);
    if (schedule == "cuda" && !target.has_feature(Target::CUDA))
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

}  // namespace

ModelPipeline forward_pipeline(const ModelSpec &spec, int batch, const std::string &schedule, const Target &target) {
    check_target(schedule, target);
    ModelInputs in = build(spec, batch);
    Dims d;
    Func logits("logits");  // (N, classes), indexed (i, n)
    logits(d.i, d.n) = in.net.output.func(d.i, d.n);
    fix_output_shape(logits, in.net.output.shape);
    Pipeline pipeline(logits);
    if (is_autoscheduler(schedule)) {
        autoschedule(pipeline, schedule, target);
    } else {
        schedule_layers(schedule, in.net.layers, target);
        if (schedule == "cuda") {
            Var io("io"), ii("ii");
            logits.gpu_tile(d.i, io, ii, 32, TailStrategy::GuardWithIf);
        }
    }
    std::vector<Argument> args{in.images};
    for (const ImageParam &p : in.params) args.push_back(p);
    return {fmt::format("{}_forward_b{}", spec.name, batch), pipeline, args};
}

ModelPipeline train_step_pipeline(const ModelSpec &spec, int batch, const std::string &schedule, const Target &target) {
    check_target(schedule, target);
    ModelInputs in = build(spec, batch);
    Dims d;
    ImageParam labels(Int(32), 1, "labels");  // (n)
    fix_shape(labels, {batch});
    Param<float> learning_rate("learning_rate"), momentum("momentum"), weight_decay("weight_decay");
    learning_rate.set_estimate(0.01f);
    momentum.set_estimate(0.9f);
    weight_decay.set_estimate(0.0f);

    Func label_values("label_values");
    label_values(_) = labels(_);
    Layer loss_layer = loss("loss_layer", in.net.output, label_values, spec.loss);
    Func loss_value("loss");  // mean over the batch
    loss_value() = loss_layer.output.func();
    Func logits("logits");
    logits(d.i, d.n) = in.net.output.func(d.i, d.n);
    fix_output_shape(logits, in.net.output.shape);

    // SGD with momentum and L2 weight decay, as torch.optim.SGD computes it.
    const std::vector<Func> grads = gradients(loss_layer.output.func, in.param_values);
    std::vector<Func> outputs{loss_value, logits};
    std::vector<Func> next_params, next_velocities;
    std::vector<ImageParam> velocities;
    for (size_t k = 0; k < in.params.size(); ++k) {
        const std::string id = identifier_for(in.info[k].name);
        ImageParam velocity(Float(32), int(in.info[k].shape.size()), id + "_velocity");
        fix_shape(velocity, in.info[k].shape);
        velocities.push_back(velocity);
        Func velocity_next(id + "_velocity_next"), param_next(id + "_next");
        velocity_next(_) = momentum * velocity(_) + grads[k](_) + weight_decay * in.params[k](_);
        param_next(_) = in.params[k](_) - learning_rate * velocity_next(_);
        fix_output_shape(velocity_next, in.info[k].shape);
        fix_output_shape(param_next, in.info[k].shape);
        next_params.push_back(param_next);
        next_velocities.push_back(velocity_next);
    }
    outputs.insert(outputs.end(), next_params.begin(), next_params.end());
    outputs.insert(outputs.end(), next_velocities.begin(), next_velocities.end());
    loss_value.set_estimates({});

    Pipeline pipeline(outputs);
    if (is_autoscheduler(schedule)) {
        autoschedule(pipeline, schedule, target);
    } else {
        std::vector<Layer> layers = in.net.layers;
        layers.push_back(loss_layer);
        schedule_layers(schedule, layers, target);
        schedule_gradients(schedule, outputs, forward_funcs(layers), target);
    }
    std::vector<Argument> args{in.images, labels};
    for (const ImageParam &p : in.params) args.push_back(p);
    for (const ImageParam &v : velocities) args.push_back(v);
    args.push_back(learning_rate);
    args.push_back(momentum);
    args.push_back(weight_decay);
    return {fmt::format("{}_train_step_b{}", spec.name, batch), pipeline, args};
}

}  // namespace cnngen
