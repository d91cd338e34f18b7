// The cpu schedule of a Winograd convolution (layers/winograd.h): each stage at root (or a
// sample at a time), in parallel, in vectors of channels; the matrix products in register tiles of output-channel
// vectors times tiles, the weights streamed one vector per step, the transformed inputs broadcast.
#include "cpu_tiles.h"

using namespace Halide;

namespace cnngen {

namespace {

// Transformed weights up to this size stay in L2 from one sample to the next (ResNet-18's
// 64-channel F(4x4) layers, 0.6 MB: at batch 8 4.9-5.1 ms a sample at a time, 5.2-5.3 the whole
// batch at once; its 128-channel ones, 2.4 MB, 3.9-4.4 against 3.2-3.5).
constexpr int64_t kWinogradSampleWeightBytes = 1 << 20;

struct RegisterTile {
    int tiles, channel_vectors;
};

// The products' register tile: `channel_vectors` (a divisor of the output's vectors) times
// `tiles`, as many accumulators as the registers hold beside a weight vector each and a
// broadcast. Each step of the reduction loads channel_vectors + tiles values for their product
// in FMAs; tiles past the count (ShiftInwards recomputes them) count as loads wasted. A
// 512-channel 7x7 output's 16 tiles (F(2x2), batch 1, AVX-512) take 6 tiles x 4 vectors (18
// computed), not 14 x 2 (28 computed).
// `fixed_tiles` (a schedule file's tile): that many tiles, with as many vectors as fit beside them.
RegisterTile product_tile(int tiles, int output_vectors, int registers, int fixed_tiles) {
    RegisterTile best{std::min(tiles, std::max(fixed_tiles, 1)), 1};
    double best_cost = 1e30;
    for (int vectors = 1; vectors <= std::min(output_vectors, 8); ++vectors) {
        if (output_vectors % vectors) continue;
        const int fits = (registers - vectors - 1) / vectors;
        const int most = std::min(tiles, fixed_tiles > 0 ? fixed_tiles : fits);
        if (fixed_tiles > 0 && most > fits) continue;
        for (int t = fixed_tiles > 0 ? most : 1; t <= most; ++t) {
            const int blocks = (tiles + t - 1) / t;
            const double computed = double(blocks) * t / tiles;  // >= 1: tiles computed twice
            const double cost = computed * double(vectors + t) / double(vectors * t);
            if (cost < best_cost - 1e-9) best_cost = cost, best = {t, vectors};
        }
    }
    return best;
}

}  // namespace

void schedule_winograd_cpu(const Layer &layer, const Target &target, const LayerSchedule &options, Func out,
                           const Func *inside) {
    Dims d;
    const Shape &shape = layer.output.shape;  // N, O, H, W
    const int m = layer.sizes.at("winograd_tile"), alpha = m + 2, tiles = layer.sizes.at("tiles");
    const int batch = shape[0], out_channels = shape[1], in_channels = layer.sizes.at("in_channels");
    const int groups = size_or(layer, "groups", 1), group_in = in_channels / groups, group_out = out_channels / groups;
    const int natural = options.vector_width > 0 ? options.vector_width : target.natural_vector_size<float>();
    const int in_vec = std::min(natural, in_channels), out_vec = std::min(natural, out_channels);
    // Grouped, the products' vectors of output channels stay within a group where its count
    // allows (the plan's grouped layers are whole packed blocks), so they read one group's input.
    const int tile_vectors = (group_out % out_vec == 0 ? group_out : out_channels) / out_vec;

    // A sample at a time where its transformed weights stay in L2 across samples: the
    // transformed input and the products, 36 values per tile and channel for F(4x4), then
    // stay there too (ResNet-18's 56x56 layers at batch 8: 14 MB each for the whole batch).
    // Inside another layer's loop over samples (a schedule file's compute_at), every stage is.
    const int64_t weight_bytes = int64_t(group_in) * out_channels * alpha * alpha * int64_t(sizeof(float));
    const bool by_sample = !inside && batch > 1 && weight_bytes <= kWinogradSampleWeightBytes;
    const int pass_tiles = by_sample || inside ? tiles / batch : tiles;
    if (inside) out.compute_at(*inside, d.n);
    else out.compute_root();
    const auto place = [&](Func f) -> Func & {
        if (inside) return f.compute_at(*inside, d.n);
        if (by_sample) return f.compute_at(out, d.n);
        return f.compute_root();
    };
    // Exact bounds (the consumers' would be symbolic), so vectors of channels start on the
    // packed weights' blocks and the register tiles' loops are constant.
    const auto bound_tiles = [&](Func f, const Var &t) {
        if (pass_tiles < tiles) f.bound_extent(t, pass_tiles);
        else f.bound(t, 0, tiles);
    };

    // The zero-padded input stored channels innermost, so each tile's window is read in
    // vectors of channels (from NCHW each would be a gather across channel planes).
    Func padded = layer.stages.at("padded");
    Var yn("yn"), c_block("c_block"), c_lane("c_lane");
    place(padded)
        .reorder_storage(d.c, d.x, d.y, d.n)
        .split(d.c, c_block, c_lane, in_vec, TailStrategy::ShiftInwards)
        .reorder(c_lane, d.x, c_block, d.y, d.n)
        .vectorize(c_lane)
        .fuse(d.y, d.n, yn)
        .parallel(yn);

    // V per tile, a vector of input channels at a time, stored tile by tile: Bᵀ d B, the
    // window read in place (a copy of it first: 0.54 against 0.48 ms for a 128-channel layer at
    // 28x28).
    Func rows = layer.stages.at("input_rows");
    Func transformed = layer.stages.at("input_transform");
    {
        const std::vector<Var> v = transformed.args();  // c, t, ax, ay
        const Var &c = v[0], &t = v[1], &ax = v[2], &ay = v[3];
        Var co("co"), ci("ci"), to("to"), ti("ti");
        place(transformed).reorder_storage(c, ax, ay, t).bound(c, 0, in_channels).bound(ax, 0, alpha).bound(ay, 0, alpha);
        bound_tiles(transformed, t);
        // Tiles in turn within a block of channels, so neighbouring windows' lines stay in L1; in
        // parallel over blocks of channels x blocks of tiles (over tile blocks alone, AlexNet's
        // 13x13 layers at batch 1 were 4 tasks, 1.1 threads busy in the profiler: 8.57 against
        // 8.23 ms a call, ResNet-18 12.2 against 11.7 ms, interleaved medians).
        Var task("task");
        transformed.split(c, co, ci, in_vec, TailStrategy::ShiftInwards)
            .split(t, to, ti, std::min(pass_tiles, 16), TailStrategy::ShiftInwards)
            .reorder(ci, ax, ay, ti, co, to)
            .vectorize(ci)
            .unroll(ax)
            .unroll(ay)
            .fuse(co, to, task)
            .parallel(task);
        const std::vector<Var> rv = rows.args();  // (c, t, ax, j)
        rows.compute_at(transformed, ti).vectorize(rv[0]).unroll(rv[2]).unroll(rv[3]);
    }

    // M per (ax, ay): output-channel vectors x tiles accumulated over input channels.
    Func products = layer.stages.at("products"), product = layer.stages.at("product");
    {
        const std::vector<Var> v = products.args();  // o, t, ax, ay
        const Var &o = v[0], &t = v[1], &ax = v[2], &ay = v[3];
        const RegisterTile block =
            product_tile(pass_tiles, tile_vectors, vector_registers(target), options.tile);
        Var oo("oo"), oi("oi"), to("to"), ti("ti"), slice("slice");
        place(products).bound(o, 0, out_channels).bound(ax, 0, alpha).bound(ay, 0, alpha);
        bound_tiles(products, t);
        products.split(o, oo, oi, out_vec * block.channel_vectors, TailStrategy::ShiftInwards)
            .split(t, to, ti, block.tiles, TailStrategy::ShiftInwards)
            .reorder(oi, ti, to, oo, ax, ay)
            .fuse(ax, ay, slice)
            .parallel(slice)
            .vectorize(oi, out_vec);
        const std::vector<Var> pv = product.args();
        product.compute_at(products, to).vectorize(pv[0], out_vec).unroll(pv[0]).unroll(pv[1]);
        product.update()
            .reorder(pv[0], pv[1], layer.reductions.at("r").x, pv[2], pv[3])
            .vectorize(pv[0], out_vec)
            .unroll(pv[0])
            .unroll(pv[1]);
    }

    // The output (with any epilogue riding on it) in rows of x vectors, a row of tiles and a
    // vector of channels at a time: Aᵀ M A for them first, in vectors of channels, into a
    // buffer in L1 the rows then read.
    Var yo("yo"), yi("yi"), co("co"), ci("ci"), tile_row("tile_row");
    out.split(d.y, yo, yi, m, TailStrategy::GuardWithIf)
        .split(d.c, co, ci, out_vec, TailStrategy::ShiftInwards)
        .reorder(d.x, yi, ci, co, yo, d.n);
    if (by_sample) out.parallel(yo);
    else if (!inside) out.fuse(yo, d.n, tile_row).parallel(tile_row);
    const int x_vec = vector_width(options, target, shape[3]);
    if (x_vec > 1) out.vectorize(d.x, x_vec);
    Func columns = layer.stages.at("output_columns"), tiled = layer.stages.at("output_tiles");
    const std::vector<Var> v = tiled.args();  // o, xi, yi, t
    tiled.compute_at(out, co).reorder(v[0], v[1], v[2], v[3]).vectorize(v[0], out_vec).unroll(v[1]).unroll(v[2]);
    const std::vector<Var> cv = columns.args();  // o, t, ax, yi
    columns.compute_at(tiled, v[3])
        .reorder(cv[0], cv[2], cv[3], cv[1])
        .vectorize(cv[0], out_vec)
        .unroll(cv[2])
        .unroll(cv[3]);
}

}  // namespace cnngen
