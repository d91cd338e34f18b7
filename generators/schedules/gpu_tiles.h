#pragma once
// GPU scheduling helpers shared by the layer schedules and the gradient schedules.
#include "schedule.h"

namespace cnngen {

// `f` at root, each of its definitions with one GPU thread per point of its pure dimensions
// (fused into one), `threads` per block; a definition without any runs on a single GPU thread.
void gpu_every_definition(Halide::Func f, int threads);

}  // namespace cnngen
