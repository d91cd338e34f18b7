// Hand-written CPU schedules. Each layer output is computed at root. Convolutions and
// fully-connected layers accumulate a register tile of outputs (a vector along the
// innermost dimension times several output channels or samples) over the whole
// reduction, so every input load and weight broadcast feeds several FMAs.
#include "schedule.h"

#include "../layers/errors.h"

using namespace Halide;

namespace cnngen {

namespace {

// Largest divisor of `n` that is at most `limit`.
int divisor_at_most(int n, int limit) {
    for (int d = std::min(n, limit); d > 1; --d)
        if (n % d == 0) return d;
    return 1;
}

int vector_width(const LayerSchedule &options, const Target &target, int extent) {
    return options.vector_width > 0 ? std::min(options.vector_width, extent) : vector_width_for(target, extent);
}

// out(x, y, c, n): rows in parallel, x in vectors.
void schedule_image_output(Func out, const Shape &shape, const Target &target, const LayerSchedule &options) {
    Dims d;
    Var cn("cn");
    const int vec = vector_width(options, target, shape[3]);
    out.compute_root().fuse(d.c, d.n, cn).parallel(cn);
    if (vec > 1) out.vectorize(d.x, vec);
}

// `inside`: computed per sample within that consumer's loop, so not parallel itself.
void schedule_conv(const Layer &layer, const Target &target, const LayerSchedule &options,
                   const Func *inside = nullptr) {
    Dims d;
    Func out = layer.output.func, sum = layer.stages.at("sum");
    const RDom &r = layer.reductions.at("r");
    const Shape &shape = layer.output.shape;
    const int vec = vector_width(options, target, shape[3]);
    // Accumulators: vec lanes x channel_tile; leave registers for the input and broadcasts.
    const int registers = target.has_feature(Target::AVX512) ? 32 : 16;
    const int channel_tile =
        options.tile > 0 ? divisor_at_most(shape[1], options.tile) : divisor_at_most(shape[1], std::max(1, registers / 2 - 2));
    Var xo("xo"), xi("xi"), co("co"), ci("ci"), tile("tile");
    if (inside) {
        out.compute_at(*inside, d.n);
    } else {
        out.compute_root();
    }
    out.split(d.x, xo, xi, vec, TailStrategy::ShiftInwards)
        .split(d.c, co, ci, channel_tile)
        .reorder(xi, ci, xo, d.y, co, d.n)
        .vectorize(xi);
    if (!inside) out.fuse(co, d.n, tile).parallel(tile);
    sum.compute_at(out, xo).vectorize(d.x).unroll(d.c);
    std::vector<VarOrRVar> order{d.x, d.c};
    for (int k = 0; k < r.dimensions(); ++k) order.push_back(r[k]);
    order.insert(order.end(), {d.y, d.n});
    sum.update().reorder(order).vectorize(d.x).unroll(d.c);
}

void schedule_fully_connected(const Layer &layer, const Target &target, const LayerSchedule &options) {
    Dims d;
    Func out = layer.output.func, sum = layer.stages.at("sum");
    const RDom &r = layer.reductions.at("r");
    const Shape &shape = layer.output.shape;
    const int vec = vector_width(options, target, shape[1]);
    const int sample_tile = divisor_at_most(shape[0], options.tile > 0 ? options.tile : 4);
    // Weights [out, in] transposed once per call so output features are contiguous.
    Func weight = layer.stages.at("weight");
    Func transposed = weight.in(sum);
    transposed.compute_root().reorder_storage(transposed.args()[1], transposed.args()[0]);
    Var io("io"), ii("ii"), no("no"), ni("ni");
    out.compute_root()
        .split(d.i, io, ii, vec, TailStrategy::ShiftInwards)
        .split(d.n, no, ni, sample_tile)
        .reorder(ii, ni, io, no)
        .parallel(no)
        .vectorize(ii);
    sum.compute_at(out, io).vectorize(d.i).unroll(d.n);
    std::vector<VarOrRVar> order{d.i, d.n};
    for (int k = 0; k < r.dimensions(); ++k) order.push_back(r[k]);
    sum.update().reorder(order).vectorize(d.i).unroll(d.n);
}

}  // namespace

void schedule_layer_cpu(const Layer &layer, const Target &target, const LayerSchedule &options) {
    Func out = layer.output.func;
    const Shape &shape = layer.output.shape;
    Dims d;
    if (layer.kind == "conv2d") {
        schedule_conv(layer, target, options);
    } else if (layer.kind == "fully_connected") {
        schedule_fully_connected(layer, target, options);
    } else if (layer.kind == "lrn") {
        schedule_image_output(out, shape, target, options);
        const int vec = vector_width(options, target, shape[3]);
        Func window_sum = layer.stages.at("window_sum");
        window_sum.compute_at(out, d.y);
        if (vec > 1) window_sum.vectorize(d.x, vec);
    } else if (shape.size() == 4) {
        schedule_image_output(out, shape, target, options);
        for (const auto &[role, stage] : layer.stages)
            if (role != "padded") Func(stage).compute_root();
    } else if (shape.size() == 2) {
        out.compute_root().parallel(d.n);
        const int vec = vector_width(options, target, shape[1]);
        if (vec > 1) out.vectorize(d.i, vec);
        for (const auto &[role, stage] : layer.stages) Func(stage).compute_at(out, d.n);
    } else {
        out.compute_root();
        for (const auto &[role, stage] : layer.stages) Func(stage).compute_root();
    }
}

void schedule_layer_cpu_inside(const Layer &layer, const Func &consumer, const LayerSchedule &options,
                               const Target &target) {
    Dims d;
    if (layer.kind == "conv2d") return schedule_conv(layer, target, options, &consumer);
    if (layer.output.shape.size() != 4 || layer.kind == "fully_connected")
        fail("{}: only image layers (N, C, H, W) can be computed inside another layer", layer.name);
    Func out = layer.output.func;
    out.compute_at(consumer, d.n);
    const int vec = vector_width(options, target, layer.output.shape[3]);
    if (vec > 1) out.vectorize(d.x, vec);
    for (const auto &[role, stage] : layer.stages)
        if (role != "padded") Func(stage).compute_at(consumer, d.n);
}

void schedule_fusion_consumer_cpu(const Layer &layer, const LayerSchedule &options, const Target &target) {
    Dims d;
    Func out = layer.output.func;
    const Shape &shape = layer.output.shape;
    out.compute_root();
    if (shape[0] > 1) out.parallel(d.n);
    const int vec = vector_width(options, target, shape[3]);
    if (vec > 1) out.vectorize(d.x, vec);
    for (const auto &[role, stage] : layer.stages) {
        if (role == "padded") continue;
        Func f(stage);
        if (role == "window_sum") f.compute_at(out, d.y);
        else f.compute_at(out, d.n);
    }
}

}  // namespace cnngen
