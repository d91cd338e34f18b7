#pragma once
// A schedule for a whole model: a named base schedule refined per layer, as read from a
// schedule file next to the model spec (models/README.md documents the format).
#include "schedule.h"

#include <map>

namespace cnngen {

// fused: the training step is one pipeline; chained: per-layer kernels the runtime calls in turn.
enum class TrainStep { fused, chained };
TrainStep train_step_from_name(const std::string &context, const std::string &name);

// How training steps get their backward passes.
enum class GradientMethod {
    automatic,  // hand-derived under cpu and gpu, autodiff otherwise
    manual,     // hand-derived (layers/backward.h) wherever a layer has a derivation
    autodiff,   // Halide's reverse-mode autodiff throughout
};
GradientMethod gradient_method_from_name(const std::string &context, const std::string &name);

struct ModelSchedule {
    std::string name = "cpu";  // recorded in the library: a built-in name or the file's stem
    std::string base = "cpu";  // naive, cpu, gpu (alias cuda) or an autoscheduler
    TrainStep train_step = TrainStep::fused;
    GradientMethod gradients = GradientMethod::automatic;
    std::map<std::string, LayerSchedule> layers;  // by layer name
};

// Whether the training step uses the hand-derived backward passes.
bool uses_manual_gradients(const ModelSchedule &schedule);

// A built-in schedule by name, with no per-layer settings.
ModelSchedule named_model_schedule(const std::string &name);

// Schedules a model's layers. `fuse` applies compute_at and inlining; the training step
// passes false, because its gradients read the forward activations (autodiff's every one). (Under gpu, activations are
// inlined either way: the gradient pass materializes what it reads.) `inputs`, the graph
// (Network::inputs), lets cpu also run the element-wise layers after a convolution on its
// output tiles (schedule_conv_with_epilogue_cpu) when fusing, and, not fusing (a training step
// with hand-derived gradients passes it), an activation whose gradient reads its output alone;
// `returned` are activations (as `inputs` counts them) the pipeline also returns, which no tile
// may keep to itself.
void schedule_model_layers(const ModelSchedule &schedule, const std::vector<Layer> &layers,
                           const Halide::Target &target, bool fuse,
                           const std::vector<std::vector<int>> &inputs = {}, const std::vector<int> &returned = {});

}  // namespace cnngen
