// Hand-written CPU schedules. Each layer output is computed at root. Convolutions and
// fully-connected layers accumulate a register tile of outputs (a vector along the
// innermost dimension times several output channels or samples, and rows where few channels
// leave registers over) over the reduction, or over
// blocks of its input channels (wide convolutions), so every input load and weight broadcast
// feeds several FMAs.
#include "cpu_tiles.h"
#include "schedule.h"

#include "../layers/errors.h"

using namespace Halide;

namespace cnngen {

int vector_registers(const Target &target) {
    if (target.arch == Target::ARM && target.bits == 64) return 32;
    return target.has_feature(Target::AVX512) ? 32 : 16;
}

// Largest divisor of `n` that is at most `limit`.
int divisor_at_most(int n, int limit) {
    for (int d = std::min(n, limit); d > 1; --d)
        if (n % d == 0) return d;
    return 1;
}

// A task a plane made global pooling's 1x1 outputs a task a value: MobileNetV2's pooled 1280
// values and the dropout after them took 0.2 ms each.
int planes_per_task(int channels, int64_t plane) {
    return divisor_at_most(channels, int(std::max<int64_t>(1, (16 << 10) / std::max<int64_t>(1, plane))));
}

Var parallel_over_plane_blocks(Func f, int planes) {
    const std::vector<Var> a = f.args();  // x, y, c, n
    Var co("co"), ci("ci"), cn("cn");
    f.split(a[2], co, ci, planes).fuse(co, a[3], cn).parallel(cn);
    return ci;
}

int size_or(const Layer &layer, const char *name, int otherwise) {
    auto it = layer.sizes.find(name);
    return it == layer.sizes.end() ? otherwise : it->second;
}

bool is_depthwise(const Layer &layer) {
    const int groups = size_or(layer, "groups", 1);
    return layer.kind == "conv2d" && groups > 1 && groups == layer.output.shape[1];
}

int vector_width(const LayerSchedule &options, const Target &target, int extent) {
    return options.vector_width > 0 ? std::min(options.vector_width, extent) : vector_width_for(target, extent);
}

namespace {

int extent_of(const RVar &v) {
    const int64_t *e = Internal::as_const_int(v.extent());
    return e ? int(*e) : 0;
}

int reduction_extent(const RDom &r) {
    int extent = 1;
    for (int k = 0; k < r.dimensions(); ++k) extent *= extent_of(r[k]);
    return extent;
}

// A convolution's loops over its register tiles: x tiles innermost, then rows and tiles of
// output channels, by default a channel tile at a time over every row, in parallel over
// channel tiles: its weights once from memory (ResNet's and VGG-16's late layers hold MBs of
// them over a few rows), its output written plane by plane. Where the weights fit in L2 but a
// sample's input does not, and every channel reads all of it (not grouped), rows go outside
// instead, in parallel: each row's input then comes from memory once for all channel tiles
// (ResNet-50's 1x1 convolutions at 56x56 read their 3 MB input once per channel tile the
// other way, 2.0 against 1.0 ms; MobileNetV2, inputs in cache, took 10.7 ms this way and 12.6-12.8
// with rows outside). Rows go outside too where channel tiles and samples are too few to share
// among threads (LeNet-5's conv2 at batch 1 is one channel tile).
bool order_conv_tiles(Func out, const Layer &layer, int channel_tile, Var xi, Var ci, Var xo, Var co, Var tile_var,
                      const TilePlacement &placement) {
    Dims d;
    const RDom &r = layer.reductions.at("r");
    const Shape &shape = layer.output.shape;
    const int64_t reduction = reduction_extent(r), weight_bytes = reduction * shape[1] * 4;
    const int64_t input_channels = r.dimensions() == 3 ? extent_of(r[2]) : 1;  // (kx, ky, channels)
    const int64_t input_bytes = input_channels * int64_t(shape[2]) * size_or(layer, "stride_y", 1) * shape[3] *
                                size_or(layer, "stride_x", 1) * 4;
    const bool few_tiles = int64_t(shape[1] / channel_tile) * shape[0] < 4;
    // 1x1 kernels up to 512 KB of weights (ResNet-50 at batch 1 and 8, 256 against 512 KB, four
    // runs each: 38.0-39.3 against 36.8-38.2 ms and 296-308 against 284-299 ms, its stride-2
    // downsample and 512-to-256 layers rows outside); wider kernels up to 256 KB (ResNet-18's 3x3
    // stride-2 64-to-128 layer measured no faster with its 295 KB).
    const int64_t weights_in_cache = reduction == input_channels ? (512 << 10) : (256 << 10);
    const bool rows_outside = few_tiles || (size_or(layer, "groups", 1) == 1 && weight_bytes <= weights_in_cache &&
                                            input_bytes > (512 << 10));
    if (!rows_outside) {
        out.reorder(xi, ci, xo, d.y, co, d.n);
        if (placement.parallel) out.fuse(co, d.n, tile_var).parallel(tile_var);
    } else if (placement.band_rows > 1) {
        Var band("band"), band_row("band_row");
        out.split(d.y, band, band_row, placement.band_rows).reorder(xi, ci, xo, co, band_row, band, d.n);
        out.fuse(band, d.n, tile_var);
        if (placement.parallel) out.parallel(tile_var);
    } else {
        out.reorder(xi, ci, xo, co, d.y, d.n);
        if (placement.parallel) out.fuse(d.y, d.n, tile_var).parallel(tile_var);
    }
    return rows_outside;
}

}  // namespace

// Across output channels where the options say so, else where the channels fill vectors and
// either rows are narrow or each output sums a kernel wider than 1x1 over at least 64 terms
// (not grouped: a group's input channels would vary along the vector) on a row the tile's x
// positions divide into at least 4 (a prime width would leave one). Against tiles along x (2
// threads, JIT): VGG-16's 256-channel 3x3 layer at 56x56, batch 8, 116 against 256 ms, its
// 128-channel one at 112x112 135 against 318 ms; ResNet's 7x7 first layer 1.23 against 1.39
// ms. 1x1 layers measured either way; VGG-16's first layer (27 terms) 15.5 ms across against
// 13.8 along x, inside its spread (13.5-16.5 ms for one build), so it keeps the old choice.
bool conv_tiles_across_channels(const LayerSchedule &options, int vec, int registers, int out_channels, int out_width,
                                int taps, int reduction, int groups) {
    if (!options.vectorize.empty()) return options.vectorize == "channels";
    if (out_channels % vec != 0) return false;
    if (out_width < 2 * vec) return true;
    const int positions = across_channels_positions(registers, across_channels_vectors(out_channels, vec));
    return taps > 1 && reduction >= 64 && groups == 1 && divisor_at_most(out_width, positions) >= 4;
}

int across_channels_vectors(int out_channels, int vec) { return out_channels % (2 * vec) == 0 ? 2 : 1; }

int across_channels_positions(int registers, int channel_vectors) { return (registers - 6) / channel_vectors; }

// Register tile along x: each input load feeds channel_tile FMAs (weights broadcast).
bool conv_tile_along_x(const Layer &layer, const Target &target, const LayerSchedule &options, Var tile_var,
                       const TilePlacement &placement, const Func *tile_owner) {
    Dims d;
    Func out = tile_owner ? *tile_owner : layer.output.func, sum = layer.stages.at("sum");
    const RDom &r = layer.reductions.at("r");
    const Shape &shape = layer.output.shape;
    const int vec = vector_width(options, target, shape[3]);
    // Accumulators: x_vectors x channel_tile vectors; leave registers for the input and
    // broadcasts. Two vectors along x on wide images halve the broadcasts per FMA (ResNet-50's
    // 1x1 convolutions at 56x56 load a weight for every FMA with one); not where each output
    // channel reads inputs of its own (grouped: MobileNetV2's depthwise layers measured slower).
    const int registers = vector_registers(target);
    const bool shared_input = size_or(layer, "groups", 1) == 1;
    const int x_vectors = options.tile == 0 && shared_input && shape[3] >= 3 * vec ? 2 : 1;
    const int channel_budget = x_vectors == 1 ? registers / 2 - 2 : (registers - 8) / x_vectors;
    const int channel_tile = divisor_at_most(shape[1], options.tile > 0 ? options.tile : std::max(1, channel_budget));
    // Where few channels leave registers over (narrow rows, one x vector), rows join the tile,
    // each weight broadcast feeding one FMA a row: LeNet-5's input gradient of conv2 (6 channels
    // of 14x14) had 6 accumulators, one input load and six broadcasts per 6 FMAs (0.64 against
    // 0.36 ms a training step, with AVX-512's 32 registers; AVX2's 16 leave none over for it).
    // Not grouped: depthwise layers keep their row-ahead padding. Whole images only, and at most
    // half the height: the last tile shifts inwards over rows a reader needs, never above row 0
    // (a convolution computed a row or two at a time inside a depthwise one, or read by a
    // floor-mode pooling that drops the last row, would start above it, reading its input there).
    const int free_registers = registers - 6 - channel_tile;
    const int rows = x_vectors == 1 && shared_input && options.tile == 0 && placement.whole_image &&
                             placement.band_rows <= 1
                         ? std::min(shape[2] / 2, std::max(1, free_registers / channel_tile))
                         : 1;
    Var xo("xo"), xi("xi"), co("co"), ci("ci"), yi("yi");
    out.split(d.x, xo, xi, vec * x_vectors, TailStrategy::ShiftInwards).split(d.c, co, ci, channel_tile);
    // The rows' loop stays where the split leaves it, inside xo, after the reorders below.
    if (rows > 1) out.split(d.y, d.y, yi, rows, TailStrategy::ShiftInwards);
    out.vectorize(xi, vec);
    const bool rows_outside = order_conv_tiles(out, layer, channel_tile, xi, ci, xo, co, tile_var, placement);
    sum.compute_at(out, xo).vectorize(d.x, vec).unroll(d.x).unroll(d.c);
    std::vector<VarOrRVar> order{d.x, d.c};
    if (rows > 1) order.push_back(d.y);
    for (int k = 0; k < r.dimensions(); ++k) order.push_back(r[k]);
    if (rows == 1) order.push_back(d.y);
    order.push_back(d.n);
    sum.update().reorder(order).vectorize(d.x, vec).unroll(d.x).unroll(d.c);
    if (rows > 1) {
        sum.unroll(d.y);
        sum.update().unroll(d.y);
    }
    return rows_outside;
}

namespace {

// out(x, y, c, n): blocks of channel planes in parallel (planes_per_task), x in vectors, or
// channels where planes are one value.
void schedule_image_output(Func out, const Shape &shape, const Target &target, const LayerSchedule &options) {
    Dims d;
    const int vec = vector_width(options, target, shape[3]);
    const int64_t plane = int64_t(shape[2]) * shape[3];
    const int channels_per_task = planes_per_task(shape[1], plane);
    const Var ci = parallel_over_plane_blocks(out.compute_root(), channels_per_task);
    const int channel_vec = vector_width(options, target, channels_per_task);
    if (vec > 1) {
        out.vectorize(d.x, vec);
    } else if (plane == 1 && channel_vec > 1 && channels_per_task % channel_vec == 0) {
        out.vectorize(ci, channel_vec);
    }
}

// Input channels per block of a convolution's reduction (whole channels, about 128 reduction
// steps, dividing their count), or 0 to run it whole: below 64 channels, or where one block
// would hold them all. From 64 (2 threads, JIT, against the whole reduction): VGG-16's
// 128-channel 3x3 layer at 112x112, batch 8, 135 against 201 ms; 64 to 128 channels at 112x112
// 68 against 90 ms; ResNet's 128-to-256 3x3 stride-2 layer at batch 1 2.42 against 2.92 ms.
int input_channel_block(const RDom &r) {
    if (r.dimensions() != 3) return 0;
    const int taps = extent_of(r[0]) * extent_of(r[1]), channels = extent_of(r[2]);
    if (channels < 64) return 0;
    const int block = divisor_at_most(channels, std::max(1, 128 / taps));
    return block * taps >= 32 && block < channels ? block : 0;  // shorter: the sums' loads and stores dominate
}

// A tile across channels' vector: the options' or the target's width, at most the channel count
// (a wider vector would shift its tile to negative channels: LeNet-5's conv1, 6 channels, read
// its bias at -10 with 16-wide vectors; cnngen tune found it).
int channel_vector_width(const LayerSchedule &options, const Target &target, int channels) {
    return std::min(options.vector_width > 0 ? options.vector_width : target.natural_vector_size<float>(), channels);
}

// Register tile across output channels: vectors of channels times x_tile positions, each
// weight vector load feeding x_tile FMAs (inputs broadcast). Pays when the output is narrow
// and the channel count a multiple of the vector width (LeNet-5's conv2: 16 x 10x10).
bool conv_tile_across_channels(const Layer &layer, const Target &target, const LayerSchedule &options,
                               Var tile_var, const TilePlacement &placement, Func out) {
    Dims d;
    Func sum = layer.stages.at("sum");
    const RDom &r = layer.reductions.at("r");
    const Shape &shape = layer.output.shape;
    const int vec = channel_vector_width(options, target, shape[1]);
    const int registers = vector_registers(target);
    const int channel_vectors = across_channels_vectors(shape[1], vec);
    const int x_tile =
        divisor_at_most(shape[3], options.tile > 0 ? options.tile : across_channels_positions(registers, channel_vectors));
    Var xo("xo"), xi("xi"), co("co"), ci("ci");
    out.split(d.x, xo, xi, x_tile).split(d.c, co, ci, vec * channel_vectors);
    const bool rows_outside = order_conv_tiles(out, layer, vec * channel_vectors, xi, ci, xo, co, tile_var, placement);
    if (placement.channels_innermost) {
        // The tile's sums are stored channel-innermost already: its output the same way is
        // whole vectors, not one scalar store per output.
        out.reorder_storage(d.c, d.x, d.y, d.n).reorder(ci, xi).vectorize(ci, vec);
    } else if (x_tile >= 4) {
        // Stored plane by plane (NCHW), each output channel's x positions are one vector store,
        // gathered from the tile's channel-innermost sums, not x_tile scalar stores (ResNet-18's
        // 7x7 first layer's stores took 0.54 and 7.1 ms at batch 1 and 8 in the profiler, its sums
        // 0.90 and 6.5). Interleaved medians, a call: ResNet-18 11.9 to 11.4 ms at batch 1 and
        // 81.4 to 77.7 at batch 8, ResNet-50 29.6 to 28.9 and 219.6 to 211.5.
        out.vectorize(xi);
    }
    // Weights with output channels innermost, so a vector of them is one load: packed in blocks
    // once after each change by the runtime (inference), else transposed once per call, in parallel
    // over input channels (VGG-16's 512x512x3x3 took 6 ms a layer on one thread).
    if (!layer.sizes.count("packed_weights")) {
        Func weight = layer.stages.at("weight");
        Func transposed = weight.in(sum);
        const std::vector<Var> w = transposed.args();  // kx, ky, ci, co
        transposed.compute_root().reorder_storage(w[3], w[0], w[1], w[2]).reorder(w[3], w[0], w[1], w[2]).parallel(w[2]);
        if (shape[1] % vec == 0) transposed.vectorize(w[3], vec);
    }
    const int block = rows_outside || !placement.whole_image ? 0 : input_channel_block(r);
    if (block) {
        // Input channels a block at a time over a band of rows: the block's weights for this
        // channel tile (block x channel_tile floats) stay in L1 for every tile of the band, the
        // band's sums (at most 32 KB) in L1/L2 between blocks. Without it, each tile streams
        // all its weights from L2 (1024 channels: 128 KB a tile) and L2 bandwidth, not the FMAs,
        // bounds the loop (ResNet-50's 1024-to-256 1x1 layer at 14x14: 137-150 against 121-124
        // GFLOP/s on one thread, JIT).
        const int row_bytes = shape[3] * vec * channel_vectors * int(sizeof(float));
        const int rows = divisor_at_most(shape[2], std::max(1, (32 << 10) / row_bytes));  // none recomputed
        Var yo("yo"), yi("yi"), sxo("sxo"), sxi("sxi");
        RVar rco("rco"), rci("rci");
        out.split(d.y, yo, yi, rows);
        sum.compute_at(out, yo).reorder_storage(d.c, d.x, d.y, d.n).vectorize(d.c, vec).unroll(d.c);
        sum.update()
            .split(d.x, sxo, sxi, x_tile)
            .split(r[2], rco, rci, block)
            .reorder({d.c, sxi, r[0], r[1], rci, sxo, d.y, rco, d.n})
            .vectorize(d.c, vec)
            .unroll(d.c)
            .unroll(sxi);
        return false;
    }
    sum.compute_at(out, xo).reorder_storage(d.c, d.x, d.y, d.n).vectorize(d.c, vec).unroll(d.c).unroll(d.x);
    std::vector<VarOrRVar> order{d.c, d.x};
    for (int k = 0; k < r.dimensions(); ++k) order.push_back(r[k]);
    order.insert(order.end(), {d.y, d.n});
    sum.update().reorder(order).vectorize(d.c, vec).unroll(d.c).unroll(d.x);
    return rows_outside;
}

}  // namespace

bool tiles_across_channels(const Layer &layer, const Target &target, const LayerSchedule &options) {
    const RDom &r = layer.reductions.at("r");
    const int taps = r.dimensions() == 3 ? extent_of(r[0]) * extent_of(r[1]) : 1;
    const int vec = options.vector_width > 0 ? options.vector_width : target.natural_vector_size<float>();
    return conv_tiles_across_channels(options, vec, vector_registers(target), layer.output.shape[1],
                                      layer.output.shape[3], taps, reduction_extent(r), size_or(layer, "groups", 1));
}

bool schedule_conv_tiles(const Layer &layer, const Target &target, const LayerSchedule &options, Func out,
                         Var tile, const TilePlacement &placement) {
    return tiles_across_channels(layer, target, options)
               ? conv_tile_across_channels(layer, target, options, tile, placement, out)
               : conv_tile_along_x(layer, target, options, tile, placement, &out);
}

namespace {

// The Func whose tiles compute `conv` and the element-wise layers riding on it: the last of
// them, the others and the convolution's output inlined into it (batch_norm's per-channel
// scale and shift once per call); the convolution's own output where there are none.
Func epilogue_tiles(const Layer &conv, const std::vector<const Layer *> &epilogue) {
    if (epilogue.empty()) return conv.output.func;
    for (const Layer *layer : epilogue) {
        for (const auto &[role, stage] : layer->stages) Func(stage).compute_root();
        if (layer != epilogue.back()) Func(layer->output.func).compute_inline();
    }
    Func(conv.output.func).compute_inline();
    return epilogue.back()->output.func;
}

// `inside`: computed per sample within that consumer's loop, so not parallel itself.
// `epilogue`: the last of the element-wise layers riding on the convolution's output (its
// tiles are computed instead, the convolution's output and those layers inlined into them).
// `stored`: channels_innermost and band_rows for its output. Returns whether rows are the outer loop.
bool schedule_conv(const Layer &layer, const Target &target, const LayerSchedule &options,
                   const Func *inside = nullptr, const Func *epilogue = nullptr,
                   const ConvProducer *producer = nullptr, const TilePlacement &stored = {}) {
    Dims d;
    Func out = epilogue ? *epilogue : layer.output.func;
    const Shape &shape = layer.output.shape;
    // Never a depthwise convolution's: no producer is computed inside it (conv_fusion).
    if (layer.sizes.count("winograd_tile")) {
        schedule_winograd_cpu(layer, target, options, out, inside);
        return false;
    }
    if (inside) {
        out.compute_at(*inside, d.n);
    } else {
        out.compute_root();
    }
    Var tile("tile");
    TilePlacement placement = stored;
    placement.parallel = !inside;
    placement.whole_image = true;
    const bool rows_outside = schedule_conv_tiles(layer, target, options, out, tile, placement);
    const bool depthwise_rows = !inside && size_or(layer, "padding", 1) && is_depthwise(layer) && !rows_outside;
    const bool across_channels = tiles_across_channels(layer, target, options);
    if (producer) {
        // Tiles of the same channels: the producer's default tile is at most the depthwise one's
        // (a wider one, from a schedule file, would shift below channel 0).
        const bool matching = options.tile == 0 && producer->options.tile == 0 &&
                              producer->options.vector_width == options.vector_width;
        if (depthwise_rows && matching && !size_or(*producer->conv, "padding", 1)) {
            LayerSchedule matched = producer->options;
            matched.vectorize = across_channels ? "channels" : "x";
            Func produced = epilogue_tiles(*producer->conv, producer->epilogue);
            produced.store_at(out, tile).compute_at(out, d.y);
            Func(producer->conv->stages.at("padded")).compute_inline();
            TilePlacement inside_tiles;
            inside_tiles.parallel = inside_tiles.whole_image = false;
            inside_tiles.channels_innermost = across_channels;
            schedule_conv_tiles(*producer->conv, target, matched, produced, Var("producer_tile"), inside_tiles);
        } else {
            schedule_conv_with_epilogue_cpu(*producer->conv, producer->epilogue, producer->options, target);
        }
    }
    // The zero-padded input is stored, so the inner loop loads plain vectors instead of
    // testing every tap against the image border. Unpadded, it is the input itself.
    Func padded = layer.stages.at("padded");
    const int in_vec = vector_width(options, target, shape[3]);
    if (!size_or(layer, "padding", 1)) {
        padded.compute_inline();
    } else if (inside) {
        padded.compute_at(*inside, d.n).vectorize(d.x, in_vec, TailStrategy::GuardWithIf);
    } else if (depthwise_rows) {
        // Depthwise: a channel tile reads its own channels alone, so it pads them itself, a row
        // ahead of its output rows (sliding over y, storage folded to the kernel's rows), in
        // cache instead of a padded copy of the whole input through memory (MobileNetV2's
        // were a fifth of its time).
        padded.store_at(out, tile).compute_at(out, d.y);
        if (across_channels) {
            // Its tile's vectors of channels each read their own input channel: stored
            // channel-innermost, a tap is one vector load instead of a gather across planes
            // (MobileNetV2's depthwise layers at 28x28 and below: 9 GFLOP/s that way).
            const int vec = channel_vector_width(options, target, shape[1]);
            padded.reorder_storage(d.c, d.x, d.y, d.n).reorder(d.c, d.x, d.y, d.n).vectorize(d.c, vec);
        } else {
            padded.vectorize(d.x, in_vec, TailStrategy::GuardWithIf);
        }
    } else {
        // In parallel over channels too: at batch 1 a sample is the whole image (MobileNetV2's
        // first depthwise input, 96x113x113, took 0.65 ms on one thread), in blocks of planes
        // (planes_per_task; ResNet-50's 512 planes of 16x16 before its 3x3 stride-2 layer from
        // 14x14 to 7x7 were 512 tasks: 0.16-0.19 against 0.04 ms in the profiler, which counted
        // 0.09 threads busy on average). The plane: the output's, by the strides (about the input's).
        const int64_t plane = int64_t(shape[2]) * size_or(layer, "stride_y", 1) * shape[3] * size_or(layer, "stride_x", 1);
        parallel_over_plane_blocks(padded.compute_root(), planes_per_task(size_or(layer, "in_channels", 1), plane));
        padded.vectorize(d.x, in_vec, TailStrategy::GuardWithIf);
    }
    return rows_outside;
}


// Each output a dot product along the reduction, which is contiguous in both the weights
// ([out, in] rows, PyTorch's layout) and the input, so the weights are read in place, never
// transposed, at every batch size. The reduction is split into `vec` lanes (rfactor) summed in
// vector registers over a tile of features x samples (lanes innermost in storage, so each
// accumulator is one vector), the lanes added at the end: per step of the reduction
// features + samples loads feed features x samples FMAs. Against the transpose per call this
// replaced (2 threads, JIT): ResNet-18's fc at batch 8 0.09-0.12 against 1.03 ms, LeNet-5's fc1 at
// batch 64 0.08 against 0.11 ms.
void schedule_fully_connected(const Layer &layer, const Target &target, const LayerSchedule &options) {
    Dims d;
    // An image input flattened once, so the reduction reads it contiguously.
    if (layer.stages.count("flat_input")) {
        Func flat = layer.stages.at("flat_input");
        flat.compute_root().vectorize(d.i, target.natural_vector_size<float>(), TailStrategy::GuardWithIf);
    }
    Func out = layer.output.func, sum = layer.stages.at("sum");
    const RDom &r = layer.reductions.at("r");
    const Shape &shape = layer.output.shape;
    const int vec = target.natural_vector_size<float>();
    // In parallel over tiles from 1M multiply-adds a call (LeNet-5's fc1, 400x120 at batch 64:
    // 0.076 ms against 0.084 serially, 2 threads; 1M weights and more: each thread streams its
    // share once); below, waking the threads costs more than they save (its fc2, 120x84 at batch
    // 64: 0.050 against 0.031 ms; fc1 at batch 1 slower too).
    const bool parallel = int64_t(reduction_extent(r)) * shape[1] * shape[0] >= (1 << 20);
    // Accumulators features x samples: up to 8 weight rows streamed at once (more measured
    // slower at batch 1), as many as the vector registers hold. On VGG-16's fc6-fc8 with
    // AVX-512 (2 threads): 4 x 8 at batch 8, 20 ms against 31 ms for 2 x 8; 8 x 1 at batch 1,
    // 11 ms against 15 ms for 16 x 1.
    const int sample_tile = divisor_at_most(shape[0], options.tile > 0 ? options.tile : 8);
    const int feature_tile = divisor_at_most(shape[1], std::max(1, std::min(8, vector_registers(target) / sample_tile)));
    // One RVar along k (the differentiable form reduces over an image's (x, y, c): fused, a gather).
    Stage update = sum.update();
    RVar k = r[0];
    for (int dim = 1; dim < r.dimensions(); ++dim) {
        RVar fused(r[dim].name() + "_flat");
        update.fuse(k, r[dim], fused);
        k = fused;
    }
    RVar ko("ko"), ki("ki");
    Var lane("lane");
    Func lanes = update.split(k, ko, ki, vec, TailStrategy::GuardWithIf).rfactor(ki, lane);
    Var io("io"), ii("ii"), no("no"), ni("ni"), tile("tile");
    out.compute_root()
        .split(d.i, io, ii, feature_tile)
        .split(d.n, no, ni, sample_tile)
        .reorder(ii, ni, io, no);
    if (parallel) out.fuse(io, no, tile).parallel(tile);
    const Var at = parallel ? tile : io;
    sum.compute_at(out, at);
    lanes.compute_at(out, at).reorder_storage(lane, d.i, d.n).vectorize(lane);
    lanes.update().reorder(lane, d.i, d.n, ko).vectorize(lane).unroll(d.i).unroll(d.n);
}

}  // namespace

bool schedule_conv_with_epilogue_cpu(const Layer &conv, const std::vector<const Layer *> &epilogue,
                                     const LayerSchedule &options, const Target &target,
                                     const ConvProducer *producer, const TilePlacement &placement) {
    const Func tiles = epilogue_tiles(conv, epilogue);
    return schedule_conv(conv, target, options, nullptr, epilogue.empty() ? nullptr : &tiles, producer, placement);
}

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
    } else if (layer.kind == "batch_norm") {
        // Per-channel statistics (the batch's while training) once, in parallel over channels;
        // the normalization element-wise as any image or feature output.
        for (const auto &[role, stage] : layer.stages) {
            Func f(stage);
            f.compute_root();
            for (int u = 0; u < f.num_update_definitions(); ++u) f.update(u).parallel(f.args()[0]);
        }
        if (shape.size() == 4) {
            schedule_image_output(out, shape, target, options);
        } else {
            out.compute_root().parallel(d.n);
            const int vec = vector_width(options, target, shape[1]);
            if (vec > 1) out.vectorize(d.i, vec);
        }
    } else if (layer.kind == "concat") {
        // Each input copied into its channel range: every update in parallel over the samples,
        // images in vectors along x (features are the copied dimension itself: left scalar).
        out.compute_root();
        const std::vector<Var> args = out.args();
        const int vec = vector_width(options, target, shape.back());
        for (int u = 0; u < out.num_update_definitions(); ++u) {
            Stage copy = out.update(u);
            if (vec > 1 && shape.size() == 4) copy.vectorize(args.front(), vec, TailStrategy::GuardWithIf);
            copy.parallel(args.back());
        }
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
    if (layer.kind == "conv2d") {
        schedule_conv(layer, target, options, &consumer);
        return;
    }
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
