#include "pipelines.h"

#include "../layers/errors.h"
#include "../layers/fixed_shape.h"
#include "../schedules/schedule.h"
#include "../training/gradients.h"
#include "backward_pass.h"
#include "pipeline_parts.h"

using namespace Halide;

namespace cnngen {

namespace {

void schedule_update_cpu(Func f, long long elements, const Target &target) {
    const std::vector<Var> args = f.args();
    f.compute_root().vectorize(args.front(), target.natural_vector_size<float>(), TailStrategy::GuardWithIf);
    if (args.size() > 1 && elements >= 32768) f.parallel(args.back());
}

// The model's inputs: images plus the learnable tensors, and the network on them.
struct ModelInputs {
    ImageParam images;
    Tensor images_value;
    ParameterInputs params;
    Network net;
};

ModelInputs build(const ModelSpec &spec, int batch) {
    ModelInputs in;
    in.images = ImageParam(Float(32), 4, "images");  // NCHW, indexed (x, y, c, n)
    const Shape image_shape{batch, spec.input[0], spec.input[1], spec.input[2]};
    fix_shape(in.images, image_shape);
    in.params = parameter_inputs(model_parameters(spec));
    Func images("images_value");
    images(_) = in.images(_);
    in.images_value = {images, image_shape};
    in.net = build_network(spec, in.images_value, in.params.source(spec.path));
    return in;
}

}  // namespace

const char *role_name(PipelineRole role) {
    switch (role) {
    case PipelineRole::forward: return "forward";
    case PipelineRole::train_step: return "train_step";
    case PipelineRole::layer_forward: return "layer_forward";
    case PipelineRole::layer_backward: return "layer_backward";
    case PipelineRole::loss: return "loss";
    case PipelineRole::sgd_update: return "sgd_update";
    }
    return "?";
}

ModelPipeline forward_pipeline(const ModelSpec &spec, int batch, const ModelSchedule &schedule, const Target &target) {
    check_target(schedule, target);
    ModelInputs in = build(spec, batch);
    Dims d;
    Func logits("logits");  // (N, classes), indexed (i, n)
    logits(d.i, d.n) = in.net.output.func(d.i, d.n);
    fix_output_shape(logits, in.net.output.shape);
    Pipeline pipeline(logits);
    if (is_autoscheduler(schedule.base)) {
        autoschedule(pipeline, schedule.base, target);
    } else {
        schedule_model_layers(schedule, in.net.layers, target, /*fuse=*/true);
        if (schedule.base == "cuda") {
            Var io("io"), ii("ii");
            logits.gpu_tile(d.i, io, ii, 32, TailStrategy::GuardWithIf);
        }
    }
    std::vector<Argument> args{in.images};
    for (const ImageParam &p : in.params.params) args.push_back(p);
    return {fmt::format("{}_forward_b{}", spec.name, batch), pipeline, args, PipelineRole::forward, batch};
}

ModelPipeline train_step_pipeline(const ModelSpec &spec, int batch, const ModelSchedule &schedule,
                                  const Target &target) {
    check_target(schedule, target);
    ModelInputs in = build(spec, batch);
    Dims d;
    ImageParam labels(Int(32), 1, "labels");  // (n)
    fix_shape(labels, {batch});
    SgdScalars sgd;

    Func label_values("label_values");
    label_values(_) = labels(_);
    Layer loss_layer = loss("loss_layer", in.net.output, label_values, spec.loss);
    Func loss_value("loss");  // mean over the batch
    loss_value() = loss_layer.output.func();
    Func logits("logits");
    logits(d.i, d.n) = in.net.output.func(d.i, d.n);
    fix_output_shape(logits, in.net.output.shape);

    // Gradients: hand-derived layer by layer from the loss gradient, or autodiff end to end.
    const bool manual = uses_manual_gradients(schedule) && !is_autoscheduler(schedule.base) && has_manual_backward(spec);
    std::vector<Func> grads;
    BackwardPass pass;
    if (manual) {
        Func d_logits("d_logits");
        d_logits(d.i, d.n) = gradients(loss_layer.output.func, {in.net.output.func})[0](d.i, d.n);
        pass = backward_pass(spec, in.net, in.images_value, in.params, {d_logits, in.net.output.shape});
        grads = pass.parameter_gradients;
    } else {
        grads = gradients(loss_layer.output.func, in.params.values);
    }
    std::vector<Func> outputs{loss_value, logits};
    std::vector<Func> next_params, next_velocities;
    std::vector<ImageParam> velocities;
    for (size_t k = 0; k < in.params.params.size(); ++k) {
        const ParameterInfo &info = in.params.info[k];
        ImageParam velocity(Float(32), int(info.shape.size()), identifier_for(info.name) + "_velocity");
        fix_shape(velocity, info.shape);
        velocities.push_back(velocity);
        SgdOutputs next = sgd_update(info, in.params.params[k], velocity, grads[k], sgd.learning_rate, sgd.momentum,
                                     sgd.weight_decay);
        next_params.push_back(next.param_next);
        next_velocities.push_back(next.velocity_next);
    }
    outputs.insert(outputs.end(), next_params.begin(), next_params.end());
    outputs.insert(outputs.end(), next_velocities.begin(), next_velocities.end());
    loss_value.set_estimates({});

    Pipeline pipeline(outputs);
    if (is_autoscheduler(schedule.base)) {
        autoschedule(pipeline, schedule.base, target);
    } else {
        std::vector<Layer> layers = in.net.layers;
        layers.push_back(loss_layer);
        schedule_model_layers(schedule, layers, target, /*fuse=*/false);
        // Generic schedules first (the loss gradient, the update), then the hand-derived
        // passes, whose Funcs the generic pass leaves alone.
        std::set<std::string> skip = forward_funcs(layers);
        for (size_t k = 0; k < pass.layers.size(); ++k)
            for (const std::string &name : funcs_owned_by(pass.layers[k], pass.inputs[k], in.params)) skip.insert(name);
        if (manual && schedule.base == "cpu") {
            // Most parameter tensors are too small to pay for a parallel loop: only the
            // large ones update in parallel.
            for (size_t k = 0; k < in.params.info.size(); ++k)
                for (Func f : {next_params[k], next_velocities[k]}) {
                    schedule_update_cpu(f, element_count(in.params.info[k].shape), target);
                    skip.insert(f.name());
                }
        }
        schedule_gradients(schedule.base, outputs, skip, target);
        for (const Gradients &g : pass.layers) schedule_backward(schedule.base, g, target);
    }
    std::vector<Argument> args{in.images, labels};
    for (const ImageParam &p : in.params.params) args.push_back(p);
    for (const ImageParam &v : velocities) args.push_back(v);
    args.push_back(sgd.learning_rate);
    args.push_back(sgd.momentum);
    args.push_back(sgd.weight_decay);
    return {fmt::format("{}_train_step_b{}", spec.name, batch), pipeline, args, PipelineRole::train_step, batch};
}

}  // namespace cnngen
