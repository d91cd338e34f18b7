// Hand-written GPU schedules for any Halide GPU API (CUDA, OpenCL): the same loop
// structure lowers to PTX or OpenCL C.
//
// - Convolution: a block owns a tile of output pixels for a group of output channels of one
//   sample; each thread accumulates several output channels in registers (every input value
//   it loads feeds that many FMAs) and the block's input window is staged in shared memory.
// - Fully connected: register-tiled; each thread keeps several samples' sums in registers, so
//   every weight it loads feeds that many FMAs; blocks tile features and the batch. (Weights are
//   read from global memory, not staged in shared tiles.)
// - Element-wise and windowed layers: a thread per output element, blocks over channels and
//   samples. ReLU is inlined into its consumer (no kernel and no round trip of its own).
#include "cpu_tiles.h"
#include "gpu_tiles.h"
#include "schedule.h"

using namespace Halide;

namespace cnngen {

namespace {

// Input windows larger than this are read through the caches instead of shared memory
// (48 KiB is CUDA's per-block limit; this leaves room for several blocks per multiprocessor).
constexpr int kSharedBytes = 16 * 1024;

int size_or(const Layer &layer, const std::string &name, int fallback) {
    auto it = layer.sizes.find(name);
    return it == layer.sizes.end() ? fallback : it->second;
}

int constant_extent(const RVar &v) {
    const int64_t *extent = as_const_int(v.extent());
    return extent ? int(*extent) : 0;
}

// Threads along one image axis: a divisor of the extent near 16 when there is one (no idle
// threads), else 8 with the tail guarded.
int image_threads(int extent, int requested) {
    if (requested > 0) return std::min(extent, requested);
    const int divisor = divisor_at_most(extent, 16);
    return divisor >= 4 ? divisor : std::min(extent, 8);
}

void gpu_image(Func out, const Shape &shape, const LayerSchedule &options) {
    Dims d;
    Var xo("xo"), yo("yo"), xi("xi"), yi("yi"), cn("cn");
    const int tx = image_threads(shape[3], options.threads), ty = image_threads(shape[2], options.threads);
    out.compute_root()
        .fuse(d.c, d.n, cn)
        .gpu_tile(d.x, d.y, xo, yo, xi, yi, tx, ty, TailStrategy::GuardWithIf)
        .gpu_blocks(cn);
}

void gpu_conv(const Layer &layer, const LayerSchedule &options, bool stage_input) {
    Dims d;
    Func out = layer.output.func, sum = layer.stages.at("sum"), padded = layer.stages.at("padded");
    const RDom &r = layer.reductions.at("r");
    const Shape &shape = layer.output.shape;
    const int channel_tile = divisor_at_most(shape[1], options.tile > 0 ? options.tile : 4);
    const int tx = image_threads(shape[3], options.threads), ty = image_threads(shape[2], options.threads);
    Var xo("xo"), yo("yo"), xi("xi"), yi("yi"), co("co"), ci("ci"), block("block");
    out.compute_root()
        .split(d.c, co, ci, channel_tile)
        .tile(d.x, d.y, xo, yo, xi, yi, tx, ty, TailStrategy::GuardWithIf)
        .reorder(ci, xi, yi, xo, yo, co, d.n)
        .fuse(co, d.n, block)
        .gpu_blocks(xo, yo, block)
        .gpu_threads(xi, yi)
        .unroll(ci);
    // channel_tile accumulators per thread, in registers.
    sum.compute_at(out, xi).unroll(d.c);
    std::vector<VarOrRVar> order{d.c};
    for (int k = 0; k < r.dimensions(); ++k) order.push_back(r[k]);
    order.insert(order.end(), {d.x, d.y, d.n});
    sum.update().reorder(order).unroll(d.c);

    // The block's input window: (tile - 1) * stride + (kernel - 1) * dilation + 1 per axis,
    // every input channel the reduction reads.
    const int kw = constant_extent(r[0]), kh = constant_extent(r[1]), channels = constant_extent(r[2]);
    const int window_x = (tx - 1) * size_or(layer, "stride_x", 1) + (kw - 1) * size_or(layer, "dilation_x", 1) + 1;
    const int window_y = (ty - 1) * size_or(layer, "stride_y", 1) + (kh - 1) * size_or(layer, "dilation_y", 1) + 1;
    const long long bytes = 4LL * window_x * window_y * channels;
    // The window is loaded a thread per point: it must fit a block's 1024 threads as well.
    if (stage_input && kw > 0 && kh > 0 && channels > 0 && bytes <= kSharedBytes && window_x * window_y <= 1024)
        padded.compute_at(out, xo).store_in(MemoryType::GPUShared).gpu_threads(d.x, d.y);
}

void gpu_fully_connected(const Layer &layer, const LayerSchedule &options) {
    Dims d;
    Func out = layer.output.func, sum = layer.stages.at("sum");
    const RDom &r = layer.reductions.at("r");
    const Shape &shape = layer.output.shape;  // N, F
    const int sample_tile = std::min(shape[0], options.tile > 0 ? options.tile : 4);
    const int threads = std::min(shape[1], options.threads > 0 ? options.threads : 64);
    Var io("io"), ii("ii"), no("no"), ni("ni");
    out.compute_root()
        .split(d.i, io, ii, threads, TailStrategy::GuardWithIf)
        .split(d.n, no, ni, sample_tile, TailStrategy::GuardWithIf)
        .reorder(ni, ii, io, no)
        .gpu_blocks(io, no)
        .gpu_threads(ii)
        .unroll(ni);
    sum.compute_at(out, ii).unroll(d.n);
    std::vector<VarOrRVar> order{d.n};
    for (int k = 0; k < r.dimensions(); ++k) order.push_back(r[k]);
    order.push_back(d.i);
    sum.update().reorder(order).unroll(d.n);
}

void gpu_flat(Stage stage, const std::vector<Var> &pure, int threads) {
    if (pure.empty()) {
        stage.gpu_single_thread();
        return;
    }
    Var flat = pure.front();
    for (size_t k = 1; k < pure.size(); ++k) {
        Var fused;
        stage.fuse(flat, pure[k], fused);
        flat = fused;
    }
    Var block, thread;  // unique names: a Func's definitions each get their own
    stage.gpu_tile(flat, block, thread, threads, TailStrategy::GuardWithIf);
}

}  // namespace

void gpu_every_definition(Func f, int threads) {
    f.compute_root();
    gpu_flat(f, f.args(), threads);
    for (int u = 0; u < f.num_update_definitions(); ++u) gpu_flat(f.update(u), pure_update_vars(f, u), threads);
}

void schedule_layer_gpu(const Layer &layer, const Target &, const LayerSchedule &options, bool inference) {
    Func out = layer.output.func;
    const Shape &shape = layer.output.shape;
    if (layer.kind == "conv2d") return gpu_conv(layer, options, inference);
    if (layer.kind == "fully_connected") return gpu_fully_connected(layer, options);
    if (layer.kind == "batch_norm") {  // statistics with a thread per channel, then element-wise
        for (const auto &[role, stage] : layer.stages) gpu_every_definition(stage, 64);
        if (shape.size() == 4) gpu_image(out, shape, options);
        else gpu_every_definition(out, 128);
        return;
    }
    if (layer.kind == "concat") {  // its pure definition is undefined: a thread per copied element
        out.compute_root();
        for (int u = 0; u < out.num_update_definitions(); ++u) gpu_flat(out.update(u), pure_update_vars(out, u), 128);
        return;
    }
    Var xi("xi");
    if (shape.size() == 4) {
        gpu_image(out, shape, options);
        for (const auto &[role, stage] : layer.stages) Func(stage).compute_at(out, xi);
    } else if (shape.size() == 2) {
        gpu_every_definition(out, 128);
        for (const auto &[role, stage] : layer.stages) gpu_every_definition(stage, 64);
    } else {
        // A scalar (a loss): per-sample terms in parallel, the batch mean on one thread.
        for (const auto &[role, stage] : layer.stages) gpu_every_definition(stage, 64);
        gpu_every_definition(out, 1);
    }
}

}  // namespace cnngen
