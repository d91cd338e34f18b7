#pragma once
// A schedule for a whole model: a named base schedule refined per layer, as read from a
// schedule file next to the model spec (models/README.md documents the format).
#include "schedule.h"

#include <map>

namespace cnngen {

struct ModelSchedule {
    std::string name = "cpu";  // recorded in the library: a built-in name or the file's stem
    std::string base = "cpu";  // naive, cpu, cuda or an autoscheduler
    std::string train_step = "fused";                    // or chained: per-layer kernels
    std::string gradients;  // manual (layers/backward.h) or autodiff; empty: manual for cpu, else autodiff
    std::map<std::string, LayerSchedule> layers;         // by layer name
};

// Whether the training step uses the hand-derived backward passes.
bool uses_manual_gradients(const ModelSchedule &schedule);

// A built-in schedule by name, with no per-layer settings.
ModelSchedule named_model_schedule(const std::string &name);

// Schedules a model's layers. `fuse` applies compute_at and inlining; the training step
// passes false, because autodiff reads every forward activation.
void schedule_model_layers(const ModelSchedule &schedule, const std::vector<Layer> &layers,
                           const Halide::Target &target, bool fuse);

}  // namespace cnngen
