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

// out(x, y, c, n) of `shape` or out(i, n): in parallel over blocks of channel planes and samples
// (planes_per_task), or over samples, the innermost dimension in vectors. A task a plane left
// LeNet-5's training step waking the threads for 784 values: its ReLU and pooling gradients,
// 384 and 1024 tasks each, ran at 0.6-1.0 threads on average in Halide's profiler.
void schedule_elementwise_cpu(Func out, const Shape &shape, const Target &target) {
    const std::vector<Var> args = out.args();
    out.compute_root();
    if (args.size() == 4 && shape.size() == 4) {
        parallel_over_plane_blocks(out, planes_per_task(shape[1], int64_t(shape[2]) * shape[3]));
    } else if (args.size() > 1) {
        out.parallel(args.back());
    }
    out.vectorize(args.front(), target.natural_vector_size<float>(), TailStrategy::GuardWithIf);
}

// dL/db(c) sums the output gradient over (x, y, n): in vector lanes along x, in parallel over
// samples, the lanes and samples added at the end. As one scalar sum it was a chain of dependent
// adds on one thread: LeNet-5's conv1 (64 x 28 x 28 terms a channel) took 0.2 of the training
// step's 4 ms. Several channels' sums advance together, each a chain of adds through memory
// (LeNet-5's conv1 one channel at a time: 0.10 ms of a 1.7 ms step).
void schedule_conv_bias_gradient(const Gradients &g, const Target &target) {
    Func d_bias = g.stages.at("d_bias");
    const RDom &ro = g.reductions.at("ro");  // (x, y, n) of the output gradient
    const int vec = vector_width_for(target, g.d_output.shape[3]);
    const int together = divisor_at_most(g.d_output.shape[1], 8);
    RVar rxo("rxo"), rxi("rxi");
    Var lane("lane"), sample("sample"), co("co"), ci("ci");
    Func partial = d_bias.compute_root()
                       .update()
                       .split(ro.x, rxo, rxi, vec, TailStrategy::GuardWithIf)
                       .rfactor({{rxi, lane}, {ro.z, sample}});
    const Var c = partial.args()[0];
    partial.compute_root().reorder_storage(lane, c, sample).vectorize(lane).parallel(sample);
    partial.update()
        .split(c, co, ci, together)
        .reorder(lane, ci, rxo, ro.y, co, sample)
        .vectorize(lane)
        .unroll(ci)
        .parallel(sample);
}

// The whole reduction per register tile: each tile streams every pixel of the batch (the
// gradient's channels and the input's) from memory. Kept for grouped convolutions, where an
// output channel's input channel varies along the vector, for output channels that fill some
// vectors but not whole ones (24 with AVX-512), and for fewer than 4 tiles.
void weight_gradient_tile_at_a_time(const Gradients &g, int vec) {
    Dims d;
    Func out = g.d_params.at(g.name + ".weight"), sum = g.stages.at("d_weight_sum");
    const RDom &ro = g.reductions.at("ro");
    Var coo("coo"), coi("coi"), yc("yc"), tile("tile");
    const Shape &w = g.weight_shape;  // (co, ci, kh, kw)
    out.compute_root()
        .split(d.n, coo, coi, vec, TailStrategy::ShiftInwards)
        .reorder(coi, d.x, d.y, d.c, coo)
        .vectorize(coi);
    if (w[2] * w[3] <= 16) {
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
}

// The reduction in chunks of about 512 pixels (rows of one sample, or whole samples where they
// are smaller), each chunk summed in registers for every tile in turn, in parallel over tiles,
// and added to the sums of a block of output channels (at most 1 MB, or one tile's where that
// alone is more): the chunk's input rows and output gradients stay in cache while every tile
// reads them, instead of each tile streaming the batch from memory. A tile: `vectors` vectors
// of output channels x the taps held x `channels` input channels (several where the kernel
// holds few taps: 1x1), tiles of the same output channels adjacent so their gradient chunk is
// reused from L1. VGG-16's 3x3 layers at batch 8 (2 threads, JIT): 256 channels at 56x56 129 ms
// against 398, 64 at 224x224 178 against 1080, 512 at 28x28 127 against 405.
void weight_gradient_in_chunks(const Gradients &g, int vec, int vectors, int channels, bool whole_kernel) {
    Dims d;
    Func out = g.d_params.at(g.name + ".weight"), sum = g.stages.at("d_weight_sum");
    const RDom &ro = g.reductions.at("ro");
    const Shape &w = g.weight_shape;  // (co, ci, kh, kw)
    const int batch = g.d_output.shape[0], height = g.d_output.shape[2], width = g.d_output.shape[3];
    const int tile = vec * vectors, per_channel = w[1] * w[2] * w[3] * int(sizeof(float));
    const int block = tile * divisor_at_most(w[0] / tile, std::max(1, (1 << 20) / per_channel / tile));
    const int rows = divisor_at_most(height, std::max(1, 512 / width));
    // ResNet-18's 512-channel 7x7 layers at batch 8 summed 49 pixels a chunk, a sample each: the
    // threads' start-up and the sums' loads and stores took longer than the products.
    const int samples = rows < height ? 1 : divisor_at_most(batch, std::max(1, 512 / (height * width)));
    Var cob("cob"), cb("cb"), coo("coo"), coi("coi"), so("so"), si("si"), cco("cco"), cci("cci"), tasks("tasks"),
        chunk_y("chunk_y"), chunk_n("chunk_n"), no("no"), ni("ni");
    RVar ryo("ryo"), ryi("ryi"), rzo("rzo"), rzi("rzi");
    out.compute_root().split(d.n, cob, cb, block).split(cb, coo, coi, vec).reorder(coi, d.x, d.y, d.c, coo, cob).vectorize(coi);
    // The chunk's sums: the register tile, computed per tile inside the loop over chunks.
    Func chunk = sum.update()
                     .split(ro.y, ryo, ryi, rows)
                     .split(ro.z, rzo, rzi, samples)
                     .rfactor({{ryo, chunk_y}, {rzo, chunk_n}});
    sum.compute_at(out, cob).reorder_storage(d.n, d.x, d.y, d.c).vectorize(d.n, vec);
    sum.update()
        .split(d.n, so, si, tile)
        .split(d.c, cco, cci, channels)
        .reorder(si, d.x, d.y, cci, so, cco, ryo, rzo)
        .vectorize(si, vec)
        .fuse(so, cco, tasks)
        .parallel(tasks);
    chunk.compute_at(sum, tasks).reorder_storage(d.n, d.x, d.y, d.c, chunk_y, chunk_n).vectorize(d.n, vec);
    Stage update = chunk.update().split(d.n, no, ni, vec).vectorize(ni).unroll(no).unroll(d.x).unroll(d.c);
    if (whole_kernel) {
        update.reorder(ni, no, d.x, d.y, d.c, ro.x, ryi, rzi, chunk_y, chunk_n).unroll(d.y);
        chunk.unroll(d.x).unroll(d.y);
    } else {
        update.reorder(ni, no, d.x, d.c, ro.x, ryi, rzi, d.y, chunk_y, chunk_n);
    }
    Func d_output_t = Func(g.d_output.func).in(chunk);
    const std::vector<Var> a = d_output_t.args();
    d_output_t.compute_root().reorder_storage(a[2], a[0], a[1], a[3]).reorder(a[2], a[0], a[1], a[3]).parallel(a[3]);
}

// For output channels fewer than a vector (LeNet-5's 6): vectors along the output's x
// instead, each lane a partial sum, the lanes added at the end. A register tile holds a row of
// taps x a few output channels: per step, a vector of each output channel's gradient and of
// the input at each tap, every one feeding several FMAs. In parallel over chunks of samples,
// input channels and tiles of output channels; the chunks' sums added once. (The tile at a
// time with 4 channels a vector ran LeNet-5's conv1 at 62 GFLOP/s, 0.24 of a 1.7 ms step.)
void weight_gradient_along_pixels(const Gradients &g, const Target &target) {
    Dims d;  // the weight gradient's (kx, ky, ci, co)
    Func out = g.d_params.at(g.name + ".weight"), sum = g.stages.at("d_weight_sum");
    const RDom &ro = g.reductions.at("ro");  // the output gradient's (x, y, n)
    const Shape &w = g.weight_shape;        // (co, ci, kh, kw)
    const int batch = g.d_output.shape[0], vec = vector_width_for(target, g.d_output.shape[3]);
    const int samples = divisor_at_most(batch, std::max(1, batch / 8));
    // Accumulators, a vector of input per tap and one of the output gradient in registers.
    const int out_channels = divisor_at_most(w[0], std::max(1, (vector_registers(target) - w[3] - 1) / w[3]));
    RVar rzo("rzo"), rzi("rzi"), rxo("rxo"), rxi("rxi");
    Var chunk("chunk"), lane("lane"), coo("coo"), coi("coi"), channels("channels"), task("task");
    out.compute_root();
    sum.compute_root();
    Func per_chunk = sum.update().split(ro.z, rzo, rzi, samples).rfactor(rzo, chunk);
    Func lanes = per_chunk.update().split(ro.x, rxo, rxi, vec, TailStrategy::GuardWithIf).rfactor(rxi, lane);
    per_chunk.compute_root().parallel(chunk);
    // Its update adds the lanes (innermost, where rfactor left them) per tile of output channels.
    per_chunk.update()
        .split(d.n, coo, coi, out_channels)
        .reorder(d.x, coi, d.y, d.c, coo, chunk)
        .fuse(d.c, coo, channels)
        .fuse(channels, chunk, task)
        .parallel(task);
    lanes.compute_at(per_chunk, d.y).reorder_storage(lane, d.x, d.n, d.y, d.c, chunk).vectorize(lane).unroll(d.x).unroll(d.n);
    lanes.update()
        .reorder({lane, d.x, d.n, rxo, ro.y, rzi, d.y, d.c, chunk})
        .vectorize(lane)
        .unroll(d.x)
        .unroll(d.n);
}

// dL/dw(kx, ky, ci, co) sums dL/dout(x, y, co, n) * in(x + kx, y + ky, ci, n) over x, y and n:
// a product whose reduction (every pixel of the batch) is far longer than either side. The
// register tile is vectors of output channels times every tap of the kernel (one row of taps
// where the kernel has more than 16), so each output-gradient vector loaded feeds one FMA per
// tap held. The output gradient is transposed once so its channels are contiguous. Fewer
// output channels than a vector: vectors along x instead (weight_gradient_along_pixels).
void schedule_conv_weight_gradient(const Gradients &g, const Target &target) {
    Dims d;
    const Shape &w = g.weight_shape;  // (co, ci, kh, kw)
    const int vec = vector_width_for(target, w[0]);
    const bool whole_kernel = w[2] * w[3] <= 16;
    const int held = whole_kernel ? w[2] * w[3] : w[3];  // taps in registers per output vector
    const int accumulators = vector_registers(target) - 4;
    const int vectors = w[0] % (2 * vec) == 0 && 2 * held <= accumulators ? 2 : 1;
    const int channels = divisor_at_most(w[1], std::max(1, accumulators / (held * vectors)));
    Func(g.d_params.at(g.name + ".weight")).bound(d.x, 0, w[3]).bound(d.y, 0, w[2]).bound(d.c, 0, w[1]).bound(d.n, 0, w[0]);
    // Enough tiles of one chunk for the threads (a 3-channel first layer still has 6 at 64 channels).
    const bool chunked = g.groups == 1 && w[0] % vec == 0 && (w[1] / channels) * (w[0] / (vec * vectors)) >= 4;
    if (chunked) weight_gradient_in_chunks(g, vec, vectors, channels, whole_kernel);
    else if (g.groups == 1 && w[0] < target.natural_vector_size<float>()) weight_gradient_along_pixels(g, target);
    else weight_gradient_tile_at_a_time(g, vec);
    Func(g.stages.at("input_padded")).compute_root().parallel(d.n).vectorize(d.x, vec, TailStrategy::GuardWithIf);
}

void schedule_conv_backward_cpu(const Gradients &g, const Target &target) {
    Dims d;
    if (g.stages.count("d_bias")) schedule_conv_bias_gradient(g, target);
    schedule_conv_weight_gradient(g, target);
    if (!g.d_input.func.defined()) return;
    // dL/din is a convolution of the zero-padded output gradient: the forward's tiling. Its
    // output channels are the weights' input channels: where its tile runs across them, they are
    // transposed once per call to be innermost, so each vector of weights is one load.
    Func d_input = g.d_input.func, sum = g.stages.at("d_input_sum");
    d_input.compute_root();
    Layer as_conv{g.name + "_d_input", "conv2d", g.d_input, {{"sum", sum}}, {{"r", g.reductions.at("rk")}}};
    as_conv.sizes["groups"] = g.groups;
    as_conv.sizes["packed_weights"] = 1;  // laid out here, not by the forward's transpose
    // Grouped: the output gradient's channel would vary along a vector of input channels.
    LayerSchedule options;
    if (g.groups > 1) options.vectorize = "x";
    if (tiles_across_channels(as_conv, target, options)) {
        Func transposed = Func(g.stages.at("weight")).in(sum);
        const std::vector<Var> w = transposed.args();  // kx, ky, ci, co
        transposed.compute_root().reorder_storage(w[2], w[0], w[1], w[3]).reorder(w[2], w[0], w[1], w[3]).parallel(w[3]);
    }
    schedule_conv_tiles(as_conv, target, options, d_input, Var("tile"));
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

void schedule_backward(const std::string &schedule, const Gradients &g, const Target &target, bool inline_d_input) {
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
    if (g.kind == "pool2d" && g.stages.count("argmax")) schedule_elementwise_cpu(g.stages.at("argmax"), g.d_output.shape, target);
    // LRN: D (a window sum) is read by d_input and by the spread; the spread by every window
    // containing the point. Both are stored once; D^-beta is recomputed where read.
    if (g.kind == "lrn")
        for (const char *stage : {"denominator", "spread"}) schedule_elementwise_cpu(g.stages.at(stage), g.d_input.shape, target);
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
        if (g.stages.count("d_sum")) schedule_elementwise_cpu(g.stages.at("d_sum"), g.d_output.shape, target);
        return;
    }
    // A pooling's input gradient read by an activation's alone (one read a value): computed
    // as that one reads it, not stored first.
    if (g.kind == "pool2d" && inline_d_input) return;
    schedule_elementwise_cpu(g.d_input.func, g.d_input.shape, target);
}

}  // namespace cnngen
