#include "pipelines.h"

#include "../layers/errors.h"
#include "../layers/fixed_shape.h"
#include "../schedules/pipeline_schedule.h"
#include "../schedules/schedule.h"
#include "../training/gradients.h"
#include "backward_pass.h"
#include "pipeline_parts.h"

#include <numeric>

using namespace Halide;

namespace cnngen {

namespace {

// A Func named for a planned output, equal to `source`, with the output's bounds.
Func planned_output(const ModelPlan &plan, const PlannedArgument &a, const Func &source, const Shape &shape) {
    Func out(argument_name(plan, a));
    out(_) = source(_);
    fix_output_shape(out, shape);
    return out;
}

std::vector<int> all_parameters(const ModelPlan &plan) {
    std::vector<int> all(plan.parameters.size());
    std::iota(all.begin(), all.end(), 0);
    return all;
}

// A pipeline's pieces as its builder makes them: inputs and outputs in the plan's order, and
// the Funcs the scheduling pass needs by role.
struct Built {
    std::vector<Argument> inputs;
    std::vector<Func> outputs;
    PipelineFuncs funcs;
};

// Every parameter's SGD update from its gradient: appends the next parameters, then the next
// velocities, to the outputs, hands the updates to the scheduling pass and returns the
// velocities read.
std::vector<ImageParam> add_sgd_updates(const ModelPlan &plan, int batch, const std::vector<ImageParam> &params,
                                        const std::vector<Func> &grads, const SgdScalars &sgd, Built &b,
                                        const std::map<std::string, Func> &state_updates = {}) {
    std::vector<ImageParam> velocities;
    std::vector<Func> next_params, next_velocities;
    for (size_t k = 0; k < plan.parameters.size(); ++k) {
        velocities.push_back(planned_input(plan, {ArgumentRole::velocity, int(k)}, batch));
        // Each read once, by the update: never copied first.
        b.funcs.inputs.insert(b.funcs.inputs.end(), {Func(velocities.back()), Func(params[k])});
        auto state = state_updates.find(plan.parameters[k].name);
        SgdOutputs next = sgd_update(plan, int(k), params[k], velocities.back(), grads[k], sgd.learning_rate,
                                     sgd.momentum, sgd.weight_decay,
                                     state == state_updates.end() ? Func() : state->second);
        next_params.push_back(next.param_next);
        next_velocities.push_back(next.velocity_next);
        for (const Func &u : {next.param_next, next.velocity_next}) {
            b.funcs.updates.push_back(u);
            b.funcs.update_elements.push_back(element_count(plan.parameters[k].shape));
        }
    }
    b.outputs.insert(b.outputs.end(), next_params.begin(), next_params.end());
    b.outputs.insert(b.outputs.end(), next_velocities.begin(), next_velocities.end());
    return velocities;
}

// Schedules read packed weights as they are instead of transposing them per call. `layers`
// are the model's from layer `first` on.
void mark_packed_weights(const ModelPlan &plan, int first, std::vector<Layer> &layers) {
    for (size_t k = 0; k < layers.size(); ++k)
        for (int p : plan.parameters_of_layer(first + int(k)))
            if (plan.parameters[size_t(p)].packed_block) layers[k].sizes["packed_weights"] = 1;
}

// The images and the network on them; while training, dropout's seed and the spec with the
// seed in its dropout layers (the backward pass recomputes their masks from it).
struct NetworkInputs {
    ImageParam images;
    Tensor images_value;
    ParameterInputs params;
    Param<int32_t> dropout_seed{argument_role_name(ArgumentRole::dropout_seed)};
    ModelSpec spec;
    Network net;
};

NetworkInputs network_inputs(const ModelPlan &plan, int batch, AlgorithmForm form, NetworkMode mode) {
    NetworkInputs in;
    in.images = planned_input(plan, {ArgumentRole::activation, 0}, batch);
    Func images("images_value");
    images(_) = in.images(_);
    in.images_value = {images, plan.activation_shape(0, batch)};
    const bool packed = mode == NetworkMode::inference;
    in.params = parameter_inputs(plan, all_parameters(plan), packed);
    in.spec = packed ? spec_reading_packed(plan) : plan.spec;
    if (mode == NetworkMode::training) {
        in.dropout_seed.set_estimate(1);
        for (LayerSpec &layer : in.spec.layers)
            if (auto *p = std::get_if<DropoutParams>(&layer.params)) p->seed = in.dropout_seed;
    }
    in.net = build_network(in.spec, in.images_value, in.params.source(plan.spec.path), form, mode);
    if (packed) mark_packed_weights(plan, 0, in.net.layers);
    return in;
}

// The loss's gradient with respect to the logits, hand-derived: autodiff of the loss would
// first walk every Func of the network behind the logits (minutes for AlexNet's).
BackwardFuncs loss_gradient(const ModelPlan &plan, const Tensor &logits, const Func &labels) {
    Func unit("d_loss");
    unit() = 1.0f;
    BackwardFuncs backward{loss_backward("loss_layer", logits, labels, plan.spec.loss, {unit, {}}), {}};
    backward.reads = {logits.func, labels};
    return backward;
}

bool manual_gradients(const ModelPlan &plan, const ModelSchedule &schedule) {
    return uses_manual_gradients(schedule) && !is_autoscheduler(schedule.base) && has_manual_backward(plan.spec);
}

Built forward(const ModelPlan &plan, const PlannedFunction &f) {
    NetworkInputs in = network_inputs(plan, f.batch, AlgorithmForm::direct, NetworkMode::inference);
    Built b;
    b.inputs.push_back(in.images);
    for (const ImageParam &p : in.params.params) b.inputs.push_back(p);
    b.outputs.push_back(planned_output(plan, f.outputs.at(0), in.net.output.func, in.net.output.shape));
    b.funcs.forward = in.net.layers;
    b.funcs.forward_inputs = in.net.inputs;
    b.funcs.inference = true;
    return b;
}

// Layers [first, end) of the forward on the activations earlier parts returned, returning
// those later parts read. The scheduling pass sees the part's graph with activations counted
// from the part (0: anything made before it) and those it returns as read once more, so no
// convolution's tiles take in a layer whose input must leave the pipeline.
Built forward_part(const ModelPlan &plan, const PlannedFunction &f) {
    const auto [first, end] = plan.forward_part_layers(plan.forward_part_starting_at(f.layer));
    Built b;
    std::map<int, Tensor> given;
    std::vector<int> parameters;
    for (const PlannedArgument &a : f.inputs) {
        if (a.role != ArgumentRole::activation) {
            parameters.push_back(a.index);
            continue;
        }
        ImageParam input = planned_input(plan, a, f.batch);
        Func value(argument_name(plan, a) + "_value");
        value(_) = input(_);
        given[a.index] = {value, plan.activation_shape(a.index, f.batch)};
        b.inputs.push_back(input);
    }
    const ParameterInputs params = parameter_inputs(plan, parameters, /*packed=*/true);
    for (const ImageParam &p : params.params) b.inputs.push_back(p);
    Network net =
        build_network_part(spec_reading_packed(plan), size_t(first), size_t(end), given, params.source(plan.spec.path));
    mark_packed_weights(plan, first, net.layers);
    const auto local = [first = first, end = end](int a) { return a > first && a <= end ? a - first : 0; };
    for (const std::vector<int> &reads : net.inputs) {
        b.funcs.forward_inputs.emplace_back();
        for (int a : reads) b.funcs.forward_inputs.back().push_back(local(a));
    }
    for (const PlannedArgument &a : f.outputs) {
        const Tensor &value = net.activations.at(size_t(a.index));
        b.outputs.push_back(planned_output(plan, a, value.func, value.shape));
        b.funcs.forward_returns.push_back(local(a.index));
    }
    b.funcs.forward = net.layers;
    b.funcs.inference = true;
    return b;
}

// The loss (mean over the batch), the logits and every parameter's gradient: what the fused
// step computes before its update, and all a split step's gradients pipeline returns.
struct LossAndGradients {
    NetworkInputs in;
    ImageParam labels;
    Func loss_value, logits;
    std::vector<Func> grads;  // in parameter order
    Built built;              // the Funcs made so far, by role, for the scheduling pass
};

LossAndGradients loss_and_gradients(const ModelPlan &plan, const PlannedFunction &f, const ModelSchedule &schedule) {
    const bool manual = manual_gradients(plan, schedule);
    LossAndGradients r{network_inputs(plan, f.batch, manual ? AlgorithmForm::direct : AlgorithmForm::differentiable,
                                      NetworkMode::training),
                       planned_input(plan, {ArgumentRole::labels}, f.batch)};
    NetworkInputs &in = r.in;
    Func label_values("label_values");
    label_values(_) = r.labels(_);
    Layer loss_layer = loss("loss_layer", in.net.output, label_values, plan.spec.loss);
    r.loss_value = Func(argument_name(plan, {ArgumentRole::loss}));
    r.loss_value() = loss_layer.output.func();
    r.loss_value.set_estimates({});
    r.logits = planned_output(plan, {ArgumentRole::activation, plan.layer_count()}, in.net.output.func,
                              in.net.output.shape);

    // Gradients: hand-derived layer by layer from the loss gradient, or autodiff end to end.
    Built &b = r.built;
    if (manual) {
        Dims d;
        Func d_logits("d_logits_value");
        BackwardFuncs loss_grad = loss_gradient(plan, in.net.output, label_values);
        d_logits(d.i, d.n) = loss_grad.gradients.d_input.func(d.i, d.n);
        b.funcs.backward.push_back(loss_grad);
        BackwardPass pass = backward_pass(in.spec, in.net, in.images_value, in.params, {d_logits, in.net.output.shape});
        r.grads = pass.parameter_gradients;
        for (size_t k = 0; k < pass.layers.size(); ++k) {
            BackwardFuncs backward{pass.layers[k], in.params.values};
            for (const Tensor &read : pass.reads[k]) backward.reads.push_back(read.func);
            b.funcs.backward.push_back(backward);
        }
    } else {
        // Autodiff for what is learned; running statistics get no gradient (the update skips it).
        std::vector<Func> trained;
        for (size_t k = 0; k < in.params.info.size(); ++k)
            if (in.params.info[k].trainable) trained.push_back(in.params.values[k]);
        const std::vector<Func> learned = gradients(loss_layer.output.func, trained);
        for (size_t k = 0, next = 0; k < in.params.info.size(); ++k) {
            const ParameterInfo &p = in.params.info[k];
            r.grads.push_back(p.trainable ? learned.at(next++) : zeros(p.identifier + "_no_gradient", int(p.shape.size())));
        }
    }
    b.inputs = {in.images, r.labels};
    for (const ImageParam &p : in.params.params) b.inputs.push_back(p);
    b.outputs = {r.loss_value, r.logits};
    b.funcs.forward = in.net.layers;
    b.funcs.forward.push_back(loss_layer);
    if (manual) {  // the graph, the loss layer reading the logits, which the step returns
        const int logits = int(in.net.layers.size());
        b.funcs.forward_inputs = in.net.inputs;
        b.funcs.forward_inputs.push_back({logits});
        b.funcs.forward_returns = {logits};
    }
    return r;
}

Built train_step(const ModelPlan &plan, const PlannedFunction &f, const ModelSchedule &schedule) {
    LossAndGradients r = loss_and_gradients(plan, f, schedule);
    Built &b = r.built;
    SgdScalars sgd;
    std::map<std::string, Func> state_updates;  // batch_norm's running statistics
    for (const Layer &layer : r.in.net.layers) state_updates.insert(layer.state_updates.begin(), layer.state_updates.end());
    const std::vector<ImageParam> velocities =
        add_sgd_updates(plan, f.batch, r.in.params.params, r.grads, sgd, b, state_updates);
    for (const ImageParam &v : velocities) b.inputs.push_back(v);
    b.inputs.insert(b.inputs.end(), {sgd.learning_rate, sgd.momentum, sgd.weight_decay});
    if (plan.has_dropout()) b.inputs.push_back(r.in.dropout_seed);
    return b;
}

// The split step's first half: the gradients as outputs, for the caller to average before the
// update (sgd_kernel). They are copies of parameter size, scheduled as the updates are.
Built gradients_step(const ModelPlan &plan, const PlannedFunction &f, const ModelSchedule &schedule) {
    LossAndGradients r = loss_and_gradients(plan, f, schedule);
    Built &b = r.built;
    for (size_t k = 0; k < plan.parameters.size(); ++k) {
        const Shape &shape = plan.parameters[k].shape;
        b.outputs.push_back(planned_output(plan, {ArgumentRole::gradient, int(k)}, r.grads[k], shape));
        b.funcs.updates.push_back(b.outputs.back());
        b.funcs.update_elements.push_back(element_count(shape));
    }
    if (plan.has_dropout()) b.inputs.push_back(r.in.dropout_seed);
    return b;
}

// One layer on its input activation with its own parameters.
struct LayerInputs {
    ImageParam input;
    Func input_value{"input_value"};
    ParameterInputs params;
    Layer layer;
};

LayerInputs layer_inputs(const ModelPlan &plan, const PlannedFunction &f, AlgorithmForm form) {
    LayerInputs in;
    in.input = planned_input(plan, {ArgumentRole::activation, f.layer}, f.batch);
    in.input_value(_) = in.input(_);
    in.params = parameter_inputs(plan, plan.parameters_of_layer(f.layer));
    // Per-layer kernels are planned for chains only: layer k reads activation k.
    in.layer = build_layer(plan.spec, size_t(f.layer), {{in.input_value, plan.activation_shape(f.layer, f.batch)}},
                           in.params.source(plan.spec.path), form);
    return in;
}

Built layer_forward(const ModelPlan &plan, const PlannedFunction &f) {
    LayerInputs in = layer_inputs(plan, f, AlgorithmForm::direct);
    Built b;
    b.inputs.push_back(in.input);
    for (const ImageParam &p : in.params.params) b.inputs.push_back(p);
    b.outputs.push_back(planned_output(plan, f.outputs.at(0), in.layer.output.func, in.layer.output.shape));
    b.funcs.forward = {in.layer};
    return b;
}

// d_input (not for the first layer) and a gradient per parameter from d_output: hand-derived
// where the layer has a derivation and the schedule asks for it, else the vector-Jacobian
// product by autodiff of sum(output * d_output).
Built layer_backward(const ModelPlan &plan, const PlannedFunction &f, const ModelSchedule &schedule) {
    const LayerSpec &spec_layer = plan.spec.layers.at(size_t(f.layer));
    const bool manual = uses_manual_gradients(schedule) && !is_autoscheduler(schedule.base) &&
                        has_manual_backward(spec_layer);
    LayerInputs in = layer_inputs(plan, f, manual ? AlgorithmForm::direct : AlgorithmForm::differentiable);
    const Shape &out_shape = in.layer.output.shape;
    ImageParam d_output = planned_input(plan, {ArgumentRole::d_activation, f.layer + 1}, f.batch);
    Func d_output_value("d_output_value");
    d_output_value(_) = d_output(_);
    const bool want_input = f.layer > 0;
    const Shape input_shape = plan.activation_shape(f.layer, f.batch);

    Built b;
    std::vector<Func> grads;  // d_input (when wanted), then one per parameter
    if (manual) {
        Gradients g = layer_backward_pass(plan.spec, size_t(f.layer), in.layer, {{in.input_value, input_shape}},
                                          in.params, {d_output_value, out_shape}, want_input);
        if (want_input) grads.push_back(g.d_input.func);
        for (const ParameterInfo &p : in.params.info) grads.push_back(g.d_params.at(p.name));
        BackwardFuncs backward{g, in.params.values};
        backward.reads.push_back(in.input_value);
        b.funcs.backward.push_back(backward);
    } else {
        Region domain;
        for (auto it = out_shape.rbegin(); it != out_shape.rend(); ++it) domain.push_back({0, *it});
        RDom r(domain);
        std::vector<Expr> at;
        for (int k = 0; k < r.dimensions(); ++k) at.push_back(r[k]);
        Func vjp("vjp");
        vjp() = sum(in.layer.output.func(at) * d_output(at));
        std::vector<Func> wrt = in.params.values;
        if (want_input) wrt.insert(wrt.begin(), in.input_value);
        grads = gradients(vjp, wrt);
        b.funcs.forward = {in.layer};
    }
    for (size_t k = 0; k < f.outputs.size(); ++k) {
        const PlannedArgument &a = f.outputs[k];
        const Shape shape = a.role == ArgumentRole::d_activation ? input_shape : plan.parameters.at(size_t(a.index)).shape;
        b.outputs.push_back(planned_output(plan, a, grads.at(k), shape));
    }
    b.inputs.push_back(in.input);
    for (const ImageParam &p : in.params.params) b.inputs.push_back(p);
    b.inputs.push_back(d_output);
    return b;
}

Built loss_kernel(const ModelPlan &plan, const PlannedFunction &f) {
    const Shape logits_shape = plan.activation_shape(plan.layer_count(), f.batch);
    ImageParam logits = planned_input(plan, f.inputs.at(0), f.batch);
    ImageParam labels = planned_input(plan, {ArgumentRole::labels}, f.batch);
    Func logits_value("logits_value"), label_values("label_values");
    logits_value(_) = logits(_);
    label_values(_) = labels(_);
    Layer loss_layer = loss("loss_layer", {logits_value, logits_shape}, label_values, plan.spec.loss);
    Func loss_value(argument_name(plan, {ArgumentRole::loss}));  // mean over the batch
    loss_value() = loss_layer.output.func();
    loss_value.set_estimates({});
    Built b;
    BackwardFuncs loss_grad = loss_gradient(plan, {logits_value, logits_shape}, label_values);
    Func d_logits = planned_output(plan, f.outputs.at(1), loss_grad.gradients.d_input.func, logits_shape);
    b.funcs.backward.push_back(loss_grad);
    b.inputs = {logits, labels};
    b.outputs = {loss_value, d_logits};
    b.funcs.forward = {loss_layer};
    return b;
}

// Every parameter's update in one kernel.
Built sgd_kernel(const ModelPlan &plan, const PlannedFunction &f) {
    ParameterInputs in = parameter_inputs(plan, all_parameters(plan));
    SgdScalars sgd;
    std::vector<ImageParam> grads;
    std::vector<Func> grad_values;
    for (size_t k = 0; k < plan.parameters.size(); ++k) {
        grads.push_back(planned_input(plan, {ArgumentRole::gradient, int(k)}, f.batch));
        Func grad_value(plan.parameters[k].identifier + "_grad_value");
        grad_value(_) = grads.back()(_);
        grad_values.push_back(grad_value);
    }
    Built b;
    const std::vector<ImageParam> velocities = add_sgd_updates(plan, f.batch, in.params, grad_values, sgd, b);
    for (const ImageParam &p : in.params) b.inputs.push_back(p);
    for (const ImageParam &v : velocities) b.inputs.push_back(v);
    for (const ImageParam &g : grads) b.inputs.push_back(g);
    b.inputs.insert(b.inputs.end(), {sgd.learning_rate, sgd.momentum, sgd.weight_decay});
    return b;
}

// The builders above must produce exactly the plan's arguments: the runtime binds by position.
void check_against_plan(const ModelPlan &plan, const PlannedFunction &f, const Built &b) {
    const auto expect = [&](const char *what, size_t k, const PlannedArgument &a, std::string got) {
        const auto dollar = got.find('$');  // Halide makes repeated Func names unique: "logits$1"
        if (dollar != std::string::npos) got.resize(dollar);
        if (got != argument_name(plan, a))
            fail("internal error: {} {} #{} is '{}', the plan says '{}'", f.name, what, k, got, argument_name(plan, a));
    };
    if (b.inputs.size() != f.inputs.size() || b.outputs.size() != f.outputs.size())
        fail("internal error: {} has {} inputs and {} outputs, the plan says {} and {}", f.name, b.inputs.size(),
             b.outputs.size(), f.inputs.size(), f.outputs.size());
    for (size_t k = 0; k < f.inputs.size(); ++k) expect("input", k, f.inputs[k], b.inputs[k].name);
    for (size_t k = 0; k < f.outputs.size(); ++k) expect("output", k, f.outputs[k], b.outputs[k].name());
}

}  // namespace

namespace {

// The plan as this target computes it: batch statistics summed in float where the target has
// no double (OpenCL without cl_khr_fp64, Metal, ...).
ModelPlan plan_for_target(const ModelPlan &plan, const Target &target) {
    const bool doubles = !target.has_gpu_feature() || target.has_feature(Target::CUDA) ||
                         (target.has_feature(Target::OpenCL) && target.has_feature(Target::CLDoubles));
    if (doubles) return plan;
    ModelPlan adjusted = plan;
    for (LayerSpec &layer : adjusted.spec.layers)
        if (auto *p = std::get_if<BatchNormParams>(&layer.params)) p->sum_type = Float(32);
    return adjusted;
}

}  // namespace

ModelPipeline build_pipeline(const ModelPlan &given_plan, const PlannedFunction &f, const ModelSchedule &schedule,
                             const Target &target) {
    check_target(schedule, target);
    const ModelPlan plan = plan_for_target(given_plan, target);
    // An argument keeps the name it is given, while Halide suffixes a Func's name ("$1") only if
    // this process has seen the name before. A layer named like an argument ("labels") and built
    // before it would share its name, so the arguments' names are seen first. (Each function is
    // generated in a process of its own, where its first target's pipeline is the first built:
    // see forked_jobs.h.)
    for (const PlannedArgument &a : f.inputs) Internal::unique_name(argument_name(plan, a));
    Built b;
    switch (f.role) {
    case FunctionRole::forward: b = forward(plan, f); break;
    case FunctionRole::train_step: b = train_step(plan, f, schedule); break;
    case FunctionRole::gradients: b = gradients_step(plan, f, schedule); break;
    case FunctionRole::layer_forward: b = layer_forward(plan, f); break;
    case FunctionRole::layer_backward: b = layer_backward(plan, f, schedule); break;
    case FunctionRole::loss: b = loss_kernel(plan, f); break;
    case FunctionRole::sgd_update: b = sgd_kernel(plan, f); break;
    case FunctionRole::forward_part: b = forward_part(plan, f); break;
    }
    check_against_plan(plan, f, b);
    b.funcs.outputs = b.outputs;
    Pipeline pipeline(b.outputs);
    schedule_pipeline(pipeline, schedule, b.funcs, target);
    return {pipeline, b.inputs};
}

}  // namespace cnngen
