// Hand-written CUDA schedules: one GPU thread per output element in 2-D thread
// blocks over the innermost dimensions, reductions accumulated in registers.
#include "schedule.h"

using namespace Halide;

namespace cnngen {

namespace {

// Threads over (x, y) in 16x16 tiles, one block per tile, channel and batch.
void gpu_image(Func f) {
    Dims d;
    Var xo("xo"), yo("yo"), xi("xi"), yi("yi"), cn("cn");
    f.compute_root()
        .fuse(d.c, d.n, cn)
        .gpu_tile(d.x, d.y, xo, yo, xi, yi, 16, 16, TailStrategy::GuardWithIf)
        .gpu_blocks(cn);
}

// Threads over (i, n).
void gpu_features(Func f) {
    Dims d;
    Var io("io"), no("no"), ii("ii"), ni("ni");
    f.compute_root().gpu_tile(d.i, d.n, io, no, ii, ni, 32, 8, TailStrategy::GuardWithIf);
}

// Threads over n only (per-sample rows of a reduction).
void gpu_rows(Func f) {
    Dims d;
    Var no("no"), ni("ni");
    f.compute_root().gpu_tile(d.n, no, ni, 64, TailStrategy::GuardWithIf);
}

}  // namespace

void schedule_layer_cuda(const Layer &layer, const Target &) {
    Func out = layer.output.func;
    const Shape &shape = layer.output.shape;
    Var xi("xi"), ii("ii");
    if (shape.size() == 4) {
        gpu_image(out);
        for (const auto &[role, stage] : layer.stages)
            if (role != "padded" && role != "weight") Func(stage).compute_at(out, xi);
    } else if (shape.size() == 2) {
        gpu_features(out);
        for (const auto &[role, stage] : layer.stages) {
            Func f = stage;
            if (role == "weight") continue;  // read in place
            if (role == "sum") f.compute_at(out, ii);
            else gpu_rows(f);
        }
    } else {
        // A scalar (a loss): per-sample terms in parallel, the batch mean on one thread.
        for (const auto &[role, stage] : layer.stages) gpu_rows(stage);
        out.compute_root().gpu_single_thread();
    }
}

}  // namespace cnngen
