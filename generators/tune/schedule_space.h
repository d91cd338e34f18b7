#pragma once
// The space `cnngen tune` searches: every setting a schedule file has, one step at a time
// from a starting schedule, with the steps that cannot pay pruned before anything is built
// (register tiles that spill, fusion groups whose per-image intermediates leave the L2 cache,
// tiles larger than what they tile).
#include "../model/plan.h"
#include "../schedules/model_schedule.h"

#include <string>
#include <vector>

namespace cnngen {

struct MachineLimits {
    int vector_registers = 16;
    int natural_vector = 8;        // floats
    long long l2_bytes = 1 << 20;  // per core
};

// The target's registers and vector width; the L2 size of this machine when the target is
// the host's architecture, else 1 MiB.
MachineLimits machine_limits(const Halide::Target &target);

struct SearchSpace {
    const ModelPlan &plan;
    MachineLimits limits;
    bool training = true;     // train_step and gradients are settings only when the library trains
    int largest_batch = 256;  // fully-connected sample tiles stay within it
};

// Why `schedule` is not worth building (a spilling tile, an L2-sized fusion group) or cannot
// be built (a broken fusion chain); empty when it is fine.
std::string pruned_because(const ModelSchedule &schedule, const SearchSpace &space);

// Every schedule one setting away from `from`: a layer joins or leaves a fusion group, an
// activation is inlined or not, a tile, vector width or vectorized dimension changes, the
// training step is fused or chained, gradients hand-derived or by autodiff. Pruned ones are
// left out; the order is fixed (layers in spec order), so a seeded pick is reproducible.
std::vector<ModelSchedule> neighbours(const ModelSchedule &from, const SearchSpace &space);

// `a` with every setting in which `b` differs from `base` taken from `b`: two improving
// moves tried together.
ModelSchedule combined(const ModelSchedule &base, const ModelSchedule &a, const ModelSchedule &b);

// One line per setting that differs from `base` ("conv1.tile 4 -> 8"), for progress and notes.
std::string describe_changes(const ModelSchedule &base, const ModelSchedule &changed);

}  // namespace cnngen
