// The cpu schedule of a Winograd convolution (layers/winograd.h): each stage at root, in
// parallel, in vectors of channels; the matrix products in register tiles of output-channel
// vectors times tiles, the weights streamed one vector per step, the transformed inputs broadcast.
#include "cpu_tiles.h"

using namespace Halide;

namespace cnngen {

namespace {

struct RegisterTile {
    int tiles, channel_vectors;
};

// The products' register tile: `channel_vectors` (a divisor of the output's vectors) times
// `tiles`, as many accumulators as the registers hold beside a weight vector each and a
// broadcast. Each step of the reduction loads channel_vectors + tiles values for their product
// in FMAs; tiles past the count (ShiftInwards recomputes them) count as loads wasted. A
// 7x7 output's 16 tiles (F(2x2), batch 1) take 8 x 2, not 14 x 2 shifted (28 computed).
RegisterTile product_tile(int tiles, int output_vectors, int registers, int fixed_tiles) {
    RegisterTile best{1, 1};
    double best_cost = 1e30;
    for (int vectors = 1; vectors <= std::min(output_vectors, 8); ++vectors) {
        if (output_vectors % vectors) continue;
        const int most = std::min(tiles, fixed_tiles > 0 ? fixed_tiles : (registers - vectors - 1) / vectors);
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
    const Shape &shape = layer.output.shape;  // N, O, H, W
    const int tiles = layer.sizes.at("tiles"), out_channels = shape[1];
    const int natural = options.vector_width > 0 ? options.vector_width : target.natural_vector_size<float>();

    // The zero-padded input, in parallel over channels and samples.
    Dims d;
    Func padded = layer.stages.at("padded");
    Var cn("cn");
    padded.compute_root().fuse(d.c, d.n, cn).parallel(cn).vectorize(d.x, vector_width_for(target, shape[3]),
                                                                     TailStrategy::GuardWithIf);

    // V per tile, a vector of input channels at a time: the window gathered once into a
    // small buffer, then Bᵀ d B in registers.
    Func tile = layer.stages.at("input_tile"), rows = layer.stages.at("input_rows");
    Func transformed = layer.stages.at("input_transform");
    {
        const std::vector<Var> v = transformed.args();  // c, t, ax, ay
        const Var &c = v[0], &t = v[1], &ax = v[2], &ay = v[3];
        const int channels = int(*Internal::as_const_int(layer.reductions.at("r").x.extent()));
        const int vec = std::min(natural, channels);
        // Tiles in turn within a block of channels, so neighbouring windows' lines stay in L1.
        Var co("co"), ci("ci"), to("to"), ti("ti");
        const int alpha = layer.sizes.at("winograd_tile") + 2;
        transformed.compute_root()
            .bound(c, 0, channels)
            .bound(t, 0, tiles)
            .bound(ax, 0, alpha)
            .bound(ay, 0, alpha)
            .split(c, co, ci, vec, TailStrategy::ShiftInwards)
            .split(t, to, ti, std::min(tiles, 16), TailStrategy::ShiftInwards)
            .reorder(ci, ax, ay, ti, co, to)
            .vectorize(ci)
            .unroll(ax)
            .unroll(ay)
            .parallel(to);
        const std::vector<Var> tv = tile.args(), rv = rows.args();  // (c, t, i, j), (c, t, ax, j)
        tile.compute_at(transformed, ti).vectorize(tv[0]).unroll(tv[2]).unroll(tv[3]);
        rows.compute_at(transformed, ti).vectorize(rv[0]).unroll(rv[2]).unroll(rv[3]);
    }

    // M per (ax, ay): output-channel vectors x tiles accumulated over input channels.
    Func products = layer.stages.at("products"), product = layer.stages.at("product");
    {
        const std::vector<Var> v = products.args();  // o, t, ax, ay
        const Var &o = v[0], &t = v[1], &ax = v[2], &ay = v[3];
        const int vec = std::min(natural, out_channels);
        const RegisterTile block = product_tile(tiles, out_channels / vec, vector_registers(target), options.tile);
        const int channel_vectors = block.channel_vectors, tile_count = block.tiles;
        Var oo("oo"), oi("oi"), to("to"), ti("ti"), slice("slice");
        // Exact bounds (the consumers' would be symbolic), so vectors of channels start on
        // the packed weights' blocks and the register tile's loops are constant.
        const int alpha = layer.sizes.at("winograd_tile") + 2;
        products.compute_root()
            .bound(o, 0, out_channels)
            .bound(t, 0, tiles)
            .bound(ax, 0, alpha)
            .bound(ay, 0, alpha)
            .split(o, oo, oi, vec * channel_vectors, TailStrategy::ShiftInwards)
            .split(t, to, ti, tile_count, TailStrategy::ShiftInwards)
            .reorder(oi, ti, to, oo, ax, ay)
            .fuse(ax, ay, slice)
            .parallel(slice)
            .vectorize(oi, vec);
        const std::vector<Var> pv = product.args();
        product.compute_at(products, to).vectorize(pv[0], vec).unroll(pv[0]).unroll(pv[1]);
        product.update()
            .reorder(pv[0], pv[1], layer.reductions.at("r").x, pv[2], pv[3])
            .vectorize(pv[0], vec)
            .unroll(pv[0])
            .unroll(pv[1]);
    }

    // The output (with any epilogue riding on it) in rows of x vectors, a row of tiles and a
    // vector of channels at a time: Aᵀ M A for them first, in vectors of channels, into a
    // buffer in L1 the rows then gather from.
    const int m = layer.sizes.at("winograd_tile");
    const int out_vec = vector_width(options, target, shape[3]);
    const int vec = std::min(natural, out_channels);
    Var yo("yo"), yi("yi"), co("co"), ci("ci"), tile_row("tile_row");
    if (inside) out.compute_at(*inside, d.n);
    else out.compute_root();
    out.split(d.y, yo, yi, m, TailStrategy::GuardWithIf)
        .split(d.c, co, ci, vec, TailStrategy::ShiftInwards)
        .reorder(d.x, yi, ci, co, yo, d.n);
    if (!inside) out.fuse(yo, d.n, tile_row).parallel(tile_row);
    if (out_vec > 1) out.vectorize(d.x, out_vec);
    Func columns = layer.stages.at("output_columns"), tiled = layer.stages.at("output_tiles");
    const std::vector<Var> v = tiled.args();  // o, xi, yi, t
    tiled.compute_at(out, co).reorder(v[0], v[1], v[2], v[3]).vectorize(v[0], vec).unroll(v[1]).unroll(v[2]);
    const std::vector<Var> cv = columns.args();  // o, t, ax, yi
    columns.compute_at(tiled, v[3]).reorder(cv[0], cv[2], cv[3], cv[1]).vectorize(cv[0], vec).unroll(cv[2]).unroll(cv[3]);
}

}  // namespace cnngen
