#pragma once
// The one scheduling pass over a generated pipeline. Pipeline builders hand over the Funcs they
// made, sorted by role; every decision of where and how they run is taken here.
#include "../layers/backward.h"
#include "model_schedule.h"

namespace cnngen {

// A hand-derived backward pass and the Funcs it reads but does not own (the output gradient,
// the forward input, the parameters), which other parts of the pipeline schedule.
struct BackwardFuncs {
    Gradients gradients;
    std::vector<Halide::Func> reads;
};

struct PipelineFuncs {
    std::vector<Layer> forward;             // layer algorithms, the loss layer included
    std::vector<std::vector<int>> forward_inputs;  // a whole network's graph (Network::inputs), a hand-derived training step's with its loss layer; else empty
    std::vector<int> forward_returns;              // activations (as forward_inputs counts) a forward part or training step returns
    std::vector<BackwardFuncs> backward;    // hand-derived, last layer first
    std::vector<Halide::Func> updates;      // SGD outputs (next parameters and velocities)
    std::vector<long long> update_elements; // elements of each update
    std::vector<Halide::Func> outputs;      // every output; autodiff's Funcs hang off these
    std::vector<Halide::Func> inputs;       // wrappers of input buffers: left inline (read in place) under cpu
    bool inference = false;                 // compute_at and inlining apply (autodiff reads every activation)
};

// Schedules everything in `funcs` for `target`: an autoscheduler on the whole pipeline, or the
// hand-written base refined by the schedule file's per-layer settings.
void schedule_pipeline(Halide::Pipeline &pipeline, const ModelSchedule &schedule, const PipelineFuncs &funcs,
                       const Halide::Target &target);

}  // namespace cnngen
