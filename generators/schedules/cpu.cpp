// Hand-written CPU schedules: each layer output at root, parallel over channels x batch,
// vectorized along the innermost dimension; reductions accumulate in a row-sized buffer.
#include "schedule.h"

using namespace Halide;

namespace cnngen {

namespace {

// out(x, y, c, n): rows in parallel, x in vectors.
void schedule_image_output(Func out, const Shape &shape, const Target &target) {
    Dims d;
    Var cn("cn");
    const int vec = vector_width_for(target, shape[3]);
    out.compute_root().fuse(d.c, d.n, cn).parallel(cn);
    if (vec > 1) out.vectorize(d.x, vec);
}

// A reduction over `r` into `sum(x, y, c, n)`, computed one output row at a time.
void schedule_row_reduction(Func out, Func sum, const RDom &r, const Shape &shape, const Target &target) {
    Dims d;
    const int vec = vector_width_for(target, shape[3]);
    sum.compute_at(out, d.y);
    if (vec > 1) sum.vectorize(d.x, vec);
    std::vector<VarOrRVar> order{d.x};
    for (int k = 0; k < r.dimensions(); ++k) order.push_back(r[k]);
    order.insert(order.end(), {d.y, d.c, d.n});
    sum.update().reorder(order);
    if (vec > 1) sum.update().vectorize(d.x, vec);
}

}  // namespace

void schedule_layer_cpu(const Layer &layer, const Target &target) {
    Func out = layer.output.func;
    const Shape &shape = layer.output.shape;
    Dims d;
    if (layer.kind == "conv2d") {
        schedule_image_output(out, shape, target);
        schedule_row_reduction(out, layer.stages.at("sum"), layer.reductions.at("r"), shape, target);
    } else if (layer.kind == "lrn") {
        schedule_image_output(out, shape, target);
        const int vec = vector_width_for(target, shape[3]);
        Func window_sum = layer.stages.at("window_sum");
        window_sum.compute_at(out, d.y);
        if (vec > 1) window_sum.vectorize(d.x, vec);
    } else if (layer.kind == "fully_connected") {
        // sum(i, n): outputs of one sample together, vectorized across output features.
        const int vec = vector_width_for(target, shape[1]);
        Func sum = layer.stages.at("sum");
        out.compute_root().parallel(d.n);
        if (vec > 1) out.vectorize(d.i, vec);
        sum.compute_at(out, d.n);
        std::vector<VarOrRVar> order{d.i};
        const RDom &r = layer.reductions.at("r");
        for (int k = 0; k < r.dimensions(); ++k) order.push_back(r[k]);
        order.push_back(d.n);
        sum.update().reorder(order);
        if (vec > 1) {
            // Guard the tail: rounding up would read bias and weights past out_features.
            sum.vectorize(d.i, vec, TailStrategy::GuardWithIf);
            sum.update().vectorize(d.i, vec, TailStrategy::GuardWithIf);
        }
    } else if (shape.size() == 4) {
        schedule_image_output(out, shape, target);
        for (const auto &[role, stage] : layer.stages)
            if (role != "padded") Func(stage).compute_root();
    } else if (shape.size() == 2) {
        out.compute_root().parallel(d.n);
        const int vec = vector_width_for(target, shape[1]);
        if (vec > 1) out.vectorize(d.i, vec);
        for (const auto &[role, stage] : layer.stages) Func(stage).compute_at(out, d.n);
    } else {
        out.compute_root();
        for (const auto &[role, stage] : layer.stages) Func(stage).compute_root();
    }
}

}  // namespace cnngen
