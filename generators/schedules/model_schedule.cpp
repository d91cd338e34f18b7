#include "model_schedule.h"

#include "../layers/errors.h"

using namespace Halide;

namespace cnngen {

ModelSchedule named_model_schedule(const std::string &name) {
    check_schedule_name("cnngen build", name);
    ModelSchedule schedule;
    schedule.name = schedule.base = name;
    return schedule;
}

TrainStep train_step_from_name(const std::string &context, const std::string &name) {
    if (name == "fused") return TrainStep::fused;
    if (name == "chained") return TrainStep::chained;
    fail("{}: train_step '{}' unknown, expected fused or chained", context, name);
}

GradientMethod gradient_method_from_name(const std::string &context, const std::string &name) {
    if (name == "manual") return GradientMethod::manual;
    if (name == "autodiff") return GradientMethod::autodiff;
    fail("{}: gradients '{}' unknown, expected manual or autodiff", context, name);
}

bool uses_manual_gradients(const ModelSchedule &schedule) {
    return schedule.gradients == GradientMethod::automatic ? schedule.base == "cpu" || is_gpu_schedule(schedule.base)
                                                           : schedule.gradients == GradientMethod::manual;
}

namespace {

LayerSchedule options_for(const ModelSchedule &schedule, const Layer &layer) {
    auto it = schedule.layers.find(layer.name);
    return it == schedule.layers.end() ? LayerSchedule{} : it->second;
}

// ReLU and the other element-wise activations are inlined into the next layer: it applies
// them as it reads, which saves a kernel launch and a round trip through global memory.
void schedule_model_layers_gpu(const ModelSchedule &schedule, const std::vector<Layer> &layers, const Target &target,
                               bool inference) {
    for (size_t k = 0; k < layers.size(); ++k) {
        const Layer &layer = layers[k];
        if (layer.kind == "activation" && k + 1 < layers.size()) {
            Func(layer.output.func).compute_inline();
            continue;
        }
        schedule_layer_gpu(layer, target, options_for(schedule, layer), inference);
    }
}

}  // namespace

void schedule_model_layers(const ModelSchedule &schedule, const std::vector<Layer> &layers, const Target &target,
                           bool fuse) {
    if (is_gpu_schedule(schedule.base)) return schedule_model_layers_gpu(schedule, layers, target, fuse);
    if (schedule.base != "cpu") {
        schedule_layers(schedule.base, layers, target);
        return;
    }
    // Which layers take fused producers: they keep a per-sample loop to compute them in.
    std::map<std::string, Func> consumers;
    for (size_t k = 0; fuse && k < layers.size(); ++k) {
        auto it = schedule.layers.find(layers[k].name);
        if (it == schedule.layers.end() || it->second.compute_at.empty()) continue;
        const std::string &at = it->second.compute_at;
        size_t c = k + 1;
        while (c < layers.size() && layers[c].name != at) ++c;
        if (c == layers.size())
            fail("schedule {}: layer '{}' computes at '{}', which is not a later layer", schedule.name, layers[k].name,
                 at);
        if (layers[c].output.shape.size() != 4 || layers[c].kind == "conv2d")
            fail("schedule {}: layer '{}' cannot compute at '{}' ({}): producers fuse into pooling, LRN or activation "
                 "layers",
                 schedule.name, layers[k].name, at, layers[c].kind);
        consumers[at] = layers[c].output.func;
    }
    for (const Layer &layer : layers) {
        const LayerSchedule options = options_for(schedule, layer);
        if (fuse && options.inline_into_consumer) {
            if (layer.kind != "activation")
                fail("schedule {}: layer '{}' ({}) cannot be inlined: only element-wise activations can", schedule.name,
                     layer.name, layer.kind);
            Func(layer.output.func).compute_inline();
            continue;
        }
        if (fuse && !options.compute_at.empty()) {
            schedule_layer_cpu_inside(layer, consumers.at(options.compute_at), options, target);
        } else if (consumers.count(layer.name)) {
            schedule_fusion_consumer_cpu(layer, options, target);
        } else {
            schedule_layer_cpu(layer, target, options);
        }
    }
}

}  // namespace cnngen
