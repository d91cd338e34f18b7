#pragma once
// GPU scheduling helpers shared by the layer schedules and the gradient schedules.
#include "schedule.h"

namespace cnngen {

// One GPU thread per point of `pure` (fused into one dimension), `threads` per block; a
// stage with no pure dimension runs on a single GPU thread.
void gpu_flat(Halide::Stage stage, const std::vector<Halide::Var> &pure, int threads);
// `f` at root with each of its definitions on the GPU that way.
void gpu_every_definition(Halide::Func f, int threads);

}  // namespace cnngen
