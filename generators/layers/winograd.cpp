#include "winograd.h"

#include "errors.h"

#include <functional>

using namespace Halide;

namespace cnngen {

namespace {

// Lavin and Gray's matrices, interpolating at 0, ±1 (F(2x2)) and 0, ±1, ±2 (F(4x4)), plus infinity;
// G, the weights' transform, is the runtime's (cnngen/winograd_weights.h).
struct WinogradMatrices {
    std::vector<std::vector<double>> input;   // Bᵀ, (m + 2) x (m + 2)
    std::vector<std::vector<double>> output;  // Aᵀ, m x (m + 2)
};

const WinogradMatrices &matrices(int m) {
    static const WinogradMatrices f2{
        {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}},
        {{1, 1, 1, 0}, {0, 1, -1, -1}}};
    static const WinogradMatrices f4{
        {{4, 0, -5, 0, 1, 0},
         {0, -4, -4, 1, 1, 0},
         {0, 4, -4, -1, 1, 0},
         {0, -2, -1, 2, 1, 0},
         {0, 2, -1, -2, 1, 0},
         {0, 4, 0, -5, 0, 1}},
        {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}}};
    if (m == 2) return f2;
    if (m == 4) return f4;
    fail("Winograd output tile {} unknown, expected 2 or 4", m);
}

// Σ row[k] term(k) over the row's nonzero coefficients (most are 0 or ±1: no multiply).
Expr combine(const std::vector<double> &row, const std::function<Expr(int)> &term) {
    Expr sum;
    for (size_t k = 0; k < row.size(); ++k) {
        const double a = row[k];
        if (a == 0) continue;
        Expr value = term(int(k));
        if (a == -1) value = -value;
        else if (a != 1) value = float(a) * value;
        sum = sum.defined() ? sum + value : value;
    }
    return sum;
}

// One expression per row of `rows`, picked by `index` (a loop the schedule unrolls, so each
// copy keeps its own row alone).
Expr by_row(const Expr &index, const std::vector<std::vector<double>> &rows, const std::function<Expr(int)> &term) {
    std::vector<Expr> each;
    for (const auto &row : rows) each.push_back(combine(row, term));
    return mux(index, each);
}

}  // namespace

bool is_winograd_tile(int m) { return m == 2 || m == 4; }

bool winograd_applies(const Conv2dParams &p) {
    const auto plain = [](const Window1d &w) { return w.kernel == 3 && w.stride == 1 && w.dilation == 1; };
    return plain(p.height) && plain(p.width) && !p.flip_kernel;
}

Shape winograd_weight_shape(int out_channels, int in_channels, int m) {
    return {out_channels, in_channels, m + 2, m + 2};
}

double winograd_error_bound(int m) { return m == 2 ? 1e-6 : 1e-5; }

Layer conv2d_winograd(const std::string &name, const Tensor &input, const Conv2dParams &p,
                      const ParamSource &source) {
    const int m = p.winograd_tile;
    if (!winograd_applies(p))
        fail("{}: Winograd's algorithm takes 3x3 kernels at stride 1, no dilation, cross-correlation", name);
    const WinogradMatrices &mat = matrices(m);
    const Shape out_shape = conv2d_output_shape(name, input.shape, p);
    const int batch = input.shape[0], channels = input.shape[1], height = input.shape[2], width = input.shape[3];
    const int group_in = channels / p.groups, group_out = p.out_channels / p.groups;
    const int tiles_x = (out_shape[3] + m - 1) / m, tiles_y = (out_shape[2] + m - 1) / m;
    const int per_image = tiles_x * tiles_y;

    // Tiles past the last output row or column read zeros past the image, as padding does.
    Var x("x"), y("y"), c("c"), n("n"), t("t"), i("i"), j("j"), ax("ax"), ay("ay"), o("o"), xi("xi"), yi("yi");
    Func padded(name + "_padded");
    padded(x, y, c, n) = BoundaryConditions::constant_exterior(input.func, 0.0f, {{0, width}, {0, height}})(x, y, c, n);

    // Tile t of all batch x tiles_y x tiles_x, row-major; its input window's corner. The
    // sample clamped, so bounds inference over a range of tiles that starts mid-sample (a
    // schedule's tiles of one sample) never reaches past the last sample.
    Expr tx = t % tiles_x, ty = (t / tiles_x) % tiles_y, tn = min(t / per_image, batch - 1);
    Func tile(name + "_input_tile");  // the (m + 2)^2 window, per channel
    tile(c, t, i, j) = padded(tx * m + i - p.width.pad_before, ty * m + j - p.height.pad_before, c, tn);
    // V = Bᵀ d B: along x, then along y.
    Func rows(name + "_input_rows");
    rows(c, t, ax, j) = by_row(ax, mat.input, [&](int k) { return tile(c, t, k, j); });
    Func transformed(name + "_input_transform");
    transformed(c, t, ax, ay) = by_row(ay, mat.input, [&](int k) { return rows(c, t, ax, k); });

    // M = U ⊙ V summed over input channels: per (ax, ay), a matrix product of
    // (output channels x input channels) and (input channels x tiles); grouped, one per group,
    // over the group's own input channels.
    Func weight = source(name + ".weight", winograd_weight_shape(p.out_channels, group_in, m));
    RDom r(0, group_in, name + "_r");
    const Expr in_channel = p.groups == 1 ? Expr(r) : (o / group_out) * group_in + r;
    Func product(name + "_product");
    product(o, t, ax, ay) = 0.0f;
    product(o, t, ax, ay) += weight(ax, ay, r, o) * transformed(in_channel, t, ax, ay);
    Func products(name + "_products");
    products(o, t, ax, ay) = product(o, t, ax, ay);

    // Y = Aᵀ M A: along y, then along x; then each tile's block into its place.
    Func columns(name + "_output_columns");
    columns(o, t, ax, yi) = by_row(yi, mat.output, [&](int k) { return products(o, t, ax, k); });
    Func tiles(name + "_output_tiles");
    tiles(o, xi, yi, t) = by_row(xi, mat.output, [&](int k) { return columns(o, t, k, yi); });

    Func out(name);
    Expr bias = p.bias ? source(name + ".bias", {p.out_channels})(c) : Expr(0.0f);
    out(x, y, c, n) = bias + tiles(c, x % m, y % m, (n * tiles_y + y / m) * tiles_x + x / m);
    return {name,
            "conv2d",
            {out, out_shape},
            {{"padded", padded},
             {"input_rows", rows},
             {"input_transform", transformed},
             {"product", product},
             {"products", products},
             {"output_columns", columns},
             {"output_tiles", tiles},
             {"weight", weight}},
            {{"r", r}},
            {{"stride_x", 1}, {"stride_y", 1}, {"dilation_x", 1}, {"dilation_y", 1}, {"padding", 1}, {"groups", p.groups},
             {"in_channels", channels}, {"winograd_tile", m}, {"tiles", per_image * batch}}};
}

}  // namespace cnngen
