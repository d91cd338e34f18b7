#include "pipeline_schedule.h"

#include "cpu_tiles.h"
#include "gpu_tiles.h"

using namespace Halide;

namespace cnngen {

namespace {

void add_with_callees(const Func &f, std::set<std::string> &names) {
    if (!f.defined()) return;
    names.insert(f.name());
    for (const auto &[name, function] : Internal::find_transitive_calls(f.function())) names.insert(name);
}

// The Funcs behind the layers' outputs, which schedule_model_layers has scheduled: the layers'
// stages, what their schedules made (rfactor's intermediates, wrappers), and the wrappers of the
// inputs and parameters, left inline (a copy of every weight per step otherwise).
std::set<std::string> forward_funcs(const std::vector<Layer> &layers) {
    std::set<std::string> names;
    for (const Layer &layer : layers) {
        add_with_callees(layer.output.func, names);
        for (const auto &[role, stage] : layer.stages) add_with_callees(stage, names);
    }
    return names;
}

// The Funcs a hand-derived backward created (its gradients, stages and inline helpers), not
// those it reads.
std::set<std::string> funcs_owned_by(const BackwardFuncs &b) {
    const Gradients &g = b.gradients;
    std::set<std::string> created, read;
    for (const Tensor &d_input : input_gradients(g)) add_with_callees(d_input.func, created);
    for (const auto &[name, f] : g.d_params) add_with_callees(f, created);
    for (const auto &[role, f] : g.stages) add_with_callees(f, created);
    add_with_callees(g.d_output.func, read);
    for (const Func &f : b.reads) add_with_callees(f, read);
    std::set<std::string> owned;
    for (const std::string &name : created)
        if (!read.count(name)) owned.insert(name);
    return owned;
}

// Most parameter tensors are too small to pay for a parallel loop: only large ones update in parallel.
void schedule_update_cpu(Func f, long long elements, const Target &target) {
    const std::vector<Var> args = f.args();
    f.compute_root().vectorize(args.front(), target.natural_vector_size<float>(), TailStrategy::GuardWithIf);
    if (args.size() > 1 && elements >= 32768) f.parallel(args.back());
}

// A pure output (a copy of a layer's result) with a GPU thread per element. (Threads along its
// innermost dimension alone left LeNet-5's logits, 10 per sample, to one block of 10 busy
// threads looping over the batch.)
void schedule_output_gpu(Func f) {
    if (f.num_update_definitions() > 0 || f.args().empty()) return;
    gpu_every_definition(f, 128);
}

// A returned image, a copy of a layer's stored output of `shape` (N, C, H, W; null where not at
// hand): in vectors, in parallel over blocks of channel planes and samples
// (planes_per_task: a task a plane copied ResNet-50's 14x14 returns as 1024 tasks of 196
// values, 0.31-0.38 against 0.04-0.06 ms in Halide's profiler). The logits, small, stay a plain loop.
void schedule_output_cpu(Func f, const Shape *shape, const Target &target) {
    const std::vector<Var> a = f.args();
    if (f.num_update_definitions() > 0 || a.size() != 4) return;
    parallel_over_plane_blocks(f, shape ? planes_per_task((*shape)[1], int64_t((*shape)[2]) * (*shape)[3]) : 1);
    f.vectorize(a[0], target.natural_vector_size<float>(), TailStrategy::GuardWithIf);
}

// The input gradients of pooling layers whose only reader is an activation's gradient: it
// reads each value once, where it writes its own (LeNet-5's ReLU and pooling gradients, two
// passes over 64 x 6 x 28 x 28 values at batch 64, become one). Where the pooling's input has
// several readers, its gradient goes to their sum instead, not to an activation.
std::set<std::string> read_once_by_activation(const std::vector<BackwardFuncs> &backward) {
    std::set<std::string> pooling, read_once;
    for (const BackwardFuncs &b : backward)
        if (b.gradients.kind == "pool2d" && b.gradients.d_input.func.defined())
            pooling.insert(b.gradients.d_input.func.name());
    for (const BackwardFuncs &b : backward)
        if (b.gradients.kind == "activation" && pooling.count(b.gradients.d_output.func.name()))
            read_once.insert(b.gradients.d_output.func.name());
    return read_once;
}

}  // namespace

void schedule_pipeline(Pipeline &pipeline, const ModelSchedule &schedule, const PipelineFuncs &funcs,
                       const Target &target) {
    if (is_autoscheduler(schedule.base)) {
        autoschedule(pipeline, schedule.base, target);
        return;
    }
    schedule_model_layers(schedule, funcs.forward, target, funcs.inference, funcs.forward_inputs,
                          funcs.forward_returns);
    if (funcs.inference) {
        // The outputs copy layers' outputs (a whole network's: the logits; a forward part's: the
        // activations of forward_returns, in order, activation a the output of the part's layer
        // a - 1); wrappers of inputs and parameters stay inlined.
        for (size_t k = 0; k < funcs.outputs.size(); ++k) {
            const Func &out = funcs.outputs[k];
            const int returned = k < funcs.forward_returns.size() ? funcs.forward_returns[k] : 0;
            if (is_gpu_schedule(schedule.base)) schedule_output_gpu(out);
            else if (schedule.base == "cpu")
                schedule_output_cpu(out, returned > 0 ? &funcs.forward[size_t(returned - 1)].output.shape : nullptr,
                                    target);
        }
        return;
    }
    // The hand-derived passes (the loss gradient among them), then generic schedules for what is
    // left (autodiff's Funcs, the updates), which leave the hand-derived passes alone.
    std::set<std::string> skip = forward_funcs(funcs.forward);
    for (const Func &input : funcs.inputs) skip.insert(input.name());
    if (schedule.base == "cpu") {
        for (size_t k = 0; k < funcs.updates.size(); ++k) {
            schedule_update_cpu(funcs.updates[k], funcs.update_elements[k], target);
            skip.insert(funcs.updates[k].name());
        }
    }
    // Hand-derived passes first: what they put at root, the generic pass leaves where it is.
    // Their Funcs are gathered after scheduling, which may create some (rfactor's sums per chunk).
    const std::set<std::string> read_once = read_once_by_activation(funcs.backward);
    for (const BackwardFuncs &b : funcs.backward)
        schedule_backward(schedule.base, b.gradients, target,
                          schedule.base == "cpu" && read_once.count(b.gradients.d_input.func.name()));
    for (const BackwardFuncs &b : funcs.backward)
        for (const std::string &name : funcs_owned_by(b)) skip.insert(name);
    schedule_gradients(schedule.base, funcs.outputs, skip, target);
}

}  // namespace cnngen
