// Schedules for the hand-derived backward passes. The CPU ones mirror the forward
// convolution: a reduction Func computed per register tile of its consumer, vectorized
// along the contiguous dimension and unrolled along another, so accumulators stay in
// registers while the reduction runs. The GPU ones give each output element a thread, after
// splitting a convolution's weight and bias sums over the batch.
#include "../layers/errors.h"
#include "cpu_tiles.h"
#include "gpu_tiles.h"
#include "schedule.h"

using namespace Halide;

namespace cnngen {

namespace {

// out(x, y, c, n) or out(i, n): outer dimensions in parallel, the innermost in vectors.
void schedule_elementwise_cpu(Func out, const Target &target) {
    const std::vector<Var> args = out.args();
    out.compute_root();
    if (args.size() == 4) {
        Var cn("cn");
        out.fuse(args[2], args[3], cn).parallel(cn);
    } else if (args.size() > 1) {
        out.parallel(args.back());
    }
    out.vectorize(args.front(), target.natural_vector_size<float>(), TailStrategy::GuardWithIf);
}

// dL/dw(kx, ky, ci, co): vectors of output channels times every tap of the kernel in registers
// (every kx of one row where the kernel has more than 16 taps), summing over x, y and n; the
// output gradient is transposed once so channels are contiguous. Each input value loaded then
// feeds one FMA per tap held: VGG-16's 3x3 weight gradients ran at 12% of the FMA peak with
// only the three kx held.
void schedule_conv_weight_gradient(const Gradients &g, const Target &target) {
    Dims d;
    Func out = g.d_params.at(g.name + ".weight"), sum = g.stages.at("d_weight_sum");
    const RDom &ro = g.reductions.at("ro");
    const int out_channels = g.d_output.shape[1];
    const int vec = vector_width_for(target, out_channels);
    Var coo("coo"), coi("coi"), yc("yc"), tile("tile");
    const Shape &w = g.weight_shape;  // (co, ci, kh, kw)
    const bool whole_kernel = w[2] * w[3] <= 16;
    out.bound(d.x, 0, w[3]).bound(d.y, 0, w[2]).bound(d.c, 0, w[1]).bound(d.n, 0, w[0]);
    out.compute_root()
        .split(d.n, coo, coi, vec, TailStrategy::ShiftInwards)
        .reorder(coi, d.x, d.y, d.c, coo)
        .vectorize(coi);
    if (whole_kernel) {
        out.fuse(d.c, coo, tile).parallel(tile);
        sum.compute_at(out, tile).reorder_storage(d.n, d.x, d.y, d.c).vectorize(d.n, vec).unroll(d.x).unroll(d.y);
        sum.update().reorder(d.n, d.x, d.y, ro.x, ro.y, ro.z, d.c).vectorize(d.n, vec).unroll(d.x).unroll(d.y);
    } else {
        out.fuse(d.y, d.c, yc).fuse(yc, coo, tile).parallel(tile);
        sum.compute_at(out, tile).reorder_storage(d.n, d.x, d.y, d.c).vectorize(d.n, vec).unroll(d.x);
        sum.update().reorder(d.n, d.x, ro.x, ro.y, ro.z, d.y, d.c).vectorize(d.n, vec).unroll(d.x);
    }
    Func d_output_t = Func(g.d_output.func).in(sum);
    const std::vector<Var> a = d_output_t.args();
    d_output_t.compute_root().reorder_storage(a[2], a[0], a[1], a[3]).reorder(a[2], a[0], a[1], a[3]).parallel(a[3]);
    Func(g.stages.at("input_padded")).compute_root().parallel(d.n).vectorize(d.x, vec, TailStrategy::GuardWithIf);
}

void schedule_conv_backward_cpu(const Gradients &g, const Target &target) {
    Dims d;
    if (g.stages.count("d_bias")) Func(g.stages.at("d_bias")).compute_root();
    schedule_conv_weight_gradient(g, target);
    if (!g.d_input.func.defined()) return;
    // dL/din is a convolution of the zero-padded output gradient: the forward's tiling.
    Func(g.d_input.func).compute_root();
    Layer as_conv{g.name + "_d_input", "conv2d", g.d_input, {{"sum", g.stages.at("d_input_sum")}},
                  {{"r", g.reductions.at("rk")}}};
    as_conv.sizes["groups"] = g.d_input.shape[1] / g.weight_shape[1];  // the tiling's guess at input reuse
    conv_tile_along_x(as_conv, target, {}, Var("tile"), /*parallel=*/true);
    Func(g.stages.at("d_output_padded"))
        .compute_root()
        .parallel(d.n)
        .vectorize(d.x, target.natural_vector_size<float>(), TailStrategy::GuardWithIf);
}

// out(x, y) = sum(x, y): x in vectors of `vec`, `unrolled` values of y per register tile,
// the 1-D reduction `r` innermost over the tile; tiles of y in parallel, or tiles of x where
// y has a single tile (a batch's samples, all unrolled).
void tile_vector_by_unrolled(Func out, Func sum, const RDom &r, Var y, int y_extent, int vec, int unrolled) {
    Dims d;
    Var xo("xo"), xi("xi"), yo("yo"), yi("yi");
    out.compute_root()
        .split(d.x, xo, xi, vec, TailStrategy::ShiftInwards)
        .split(y, yo, yi, unrolled)
        .reorder(xi, yi, xo, yo)
        .parallel(y_extent > unrolled ? yo : xo)
        .vectorize(xi);
    sum.compute_at(out, xo).vectorize(d.x).unroll(y);
    sum.update().reorder(d.x, y, r).vectorize(d.x).unroll(y);
}

void schedule_fully_connected_backward_cpu(const Gradients &g, const Target &target) {
    Dims d;
    Func(g.stages.at("flat_input")).compute_root().parallel(d.n);
    if (g.stages.count("d_bias")) Func(g.stages.at("d_bias")).compute_root();
    const int batch = g.d_output.shape[0], out_features = g.d_output.shape[1];
    // Input features: shifting the last vector inwards keeps every tile a full vector.
    const int vec = vector_width_for(target, std::max(1, g.flat_features));
    // dL/dW(k, i): k in vectors, 4 output features unrolled, summing over the batch.
    tile_vector_by_unrolled(g.d_params.at(g.name + ".weight"), g.stages.at("d_weight_sum"), g.reductions.at("rn"), d.i,
                            out_features, vec, divisor_at_most(out_features, 4));
    if (!g.d_input.func.defined()) return;
    // dL/din(k, n): k in two vectors, samples unrolled (8 with 32 vector registers, 4 with 16), summing over
    // output features: the weights [out, in] are read in runs of two vectors per row, once per
    // tile of samples (AlexNet's fc6 at batch 8: 37 ms with one vector and 4 samples).
    const int wide = g.flat_features >= 4 * vec ? 2 * vec : vec;
    tile_vector_by_unrolled(g.stages.at("d_input_flat"), g.stages.at("d_input_sum"), g.reductions.at("ri"), d.n, batch,
                            wide, divisor_at_most(batch, vector_registers(target) / 4));
}

// GPU: every Func of the pass at root, a thread per output element; reductions (input gradients
// over the window) run inside the thread. A convolution's weight and bias gradients sum over the
// image and the batch, too long for one thread (LeNet-5's conv1: 50k terms per thread, 3 of the
// 4 ms of a training step on an H100): each sample's partial sum gets its own threads first
// (rfactor over the batch), then a thread per element adds the samples' partials.
void schedule_backward_gpu(const Gradients &g) {
    if (g.kind == "conv2d") {
        const RDom &ro = g.reductions.at("ro");
        for (const char *stage : {"d_weight_sum", "d_bias"}) {
            if (!g.stages.count(stage)) continue;
            Var sample("sample");
            gpu_every_definition(Func(g.stages.at(stage)).update().rfactor(ro.z, sample), 128);
        }
    }
    std::map<std::string, Func> funcs;  // by name: a stage may also be a parameter's gradient
    for (const auto &[name, f] : g.d_params) funcs.emplace(f.name(), f);
    for (const auto &[role, f] : g.stages) funcs.emplace(f.name(), f);
    for (const Tensor &d_input : input_gradients(g))
        if (d_input.func.defined()) funcs.emplace(d_input.func.name(), d_input.func);
    for (const auto &[name, f] : funcs) gpu_every_definition(f, 128);
}

}  // namespace

void schedule_backward(const std::string &schedule, const Gradients &g, const Target &target) {
    if (schedule == "naive") {
        for (const auto &[name, f] : g.d_params) Func(f).compute_root();
        for (const auto &[role, f] : g.stages) Func(f).compute_root();
        for (const Tensor &d_input : input_gradients(g))
            if (d_input.func.defined()) Func(d_input.func).compute_root();
        return;
    }
    if (is_gpu_schedule(schedule)) return schedule_backward_gpu(g);
    if (schedule != "cpu") fail("{}: hand-derived gradients have naive, cpu and gpu schedules, not '{}'", g.name, schedule);
    if (g.kind == "conv2d") return schedule_conv_backward_cpu(g, target);
    if (g.kind == "fully_connected") return schedule_fully_connected_backward_cpu(g, target);
    if (g.kind == "loss")  // per-sample sums (a row's log-sum-exp), each read by every feature
        for (const auto &[role, f] : g.stages) Func(f).compute_root();
    if (g.kind == "pool2d" && g.stages.count("argmax")) schedule_elementwise_cpu(g.stages.at("argmax"), target);
    // LRN: D (a window sum) is read by d_input and by the spread; the spread by every window
    // containing the point. Both are stored once; D^-beta is recomputed where read.
    if (g.kind == "lrn")
        for (const char *stage : {"denominator", "spread"}) schedule_elementwise_cpu(g.stages.at(stage), target);
    // A join's input gradients are views of d_output (a channel range of it, or it whole, or one
    // Func shared by an add's inputs): read where they are used, never copied.
    if (g.kind == "concat") return;
    if (g.kind == "batch_norm")  // sums over the channel's elements, one channel per thread
        for (const auto &[role, stage] : g.stages) {
            Func f(stage);
            f.compute_root();
            for (int u = 0; u < f.num_update_definitions(); ++u) f.update(u).parallel(f.args()[0]);
        }
    if (g.kind == "add") {
        if (g.stages.count("d_sum")) schedule_elementwise_cpu(g.stages.at("d_sum"), target);
        return;
    }
    schedule_elementwise_cpu(g.d_input.func, target);
}

}  // namespace cnngen
