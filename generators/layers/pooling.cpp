#include "pooling.h"

#include "errors.h"

#include <limits>

using namespace Halide;

namespace cnngen {

PoolKind pool_kind_from_name(const std::string &layer, const std::string &name) {
    if (name == "max") return PoolKind::max;
    if (name == "average" || name == "avg") return PoolKind::average;
    if (name == "p_norm" || name == "pnorm") return PoolKind::p_norm;
    fail("{}: pooling kind '{}' unknown, expected one of max, average, p_norm", layer, name);
}

namespace {

// Larger max and average windows reduce over an RDom (autodiff cannot differentiate those).
constexpr int kMaxUnrolledWindow = 64;

const char *kind_name(PoolKind kind) {
    return kind == PoolKind::max ? "max" : kind == PoolKind::average ? "average" : "p-norm";
}

int checked_output_size(const std::string &name, const char *axis, int input, const Window1d &w, const Pool2dParams &p) {
    if (w.padding_mode != PaddingMode::explicit_pads)
        fail("{}: padding mode '{}' along {} was not resolved against the input", name, padding_mode_name(w.padding_mode),
             axis);
    if (w.dilation != 1 && p.kind != PoolKind::max)
        fail("{}: {} pooling dilation {} is {}, expected 1 (only max pooling takes a dilation)", name,
             kind_name(p.kind), axis, w.dilation);
    const int output = window_output_size(name, axis, input, w);
    // Such a window would output -inf (max) or divide by zero (average without the padding).
    const bool needs_input = p.kind == PoolKind::max || (p.kind == PoolKind::average && !p.count_include_pad);
    const int empty = needs_input ? first_window_in_padding(input, output, w) : -1;
    if (empty >= 0)
        fail("{}: {} pooling window {} along {} lies wholly in the padding (input {}, kernel {}, stride {}, "
             "dilation {}, padding {}+{}{}); make the padding smaller than the kernel's span",
             name, kind_name(p.kind), empty, axis, input, w.kernel, w.stride, w.dilation, w.pad_before, w.pad_after,
             w.ceil_mode ? ", ceil_mode" : "");
    return output;
}

}  // namespace

bool pool_window_unrolled(const Pool2dParams &p) {
    return p.kind == PoolKind::p_norm || (long long)p.height.kernel * p.width.kernel <= kMaxUnrolledWindow;
}

Expr in_bounds_count(Expr start, int kernel, int extent) {
    return max(min(start + kernel, extent) - max(start, 0), 0);
}

Expr average_divisor(const Pool2dParams &p, Expr x0, Expr y0, int width, int height) {
    const Window1d &wh = p.height, &ww = p.width;
    if (p.count_include_pad && !wh.ceil_mode && !ww.ceil_mode) return Expr(float(wh.kernel * ww.kernel));
    if (p.count_include_pad)  // a ceil_mode window past the padding counts only what lies within it
        return cast<float>(max(1, in_bounds_count(y0 + wh.pad_before, wh.kernel, height + wh.pad_before + wh.pad_after) *
                                      in_bounds_count(x0 + ww.pad_before, ww.kernel, width + ww.pad_before + ww.pad_after)));
    return cast<float>(max(1, in_bounds_count(y0, wh.kernel, height) * in_bounds_count(x0, ww.kernel, width)));
}

Shape pool2d_output_shape(const std::string &name, const Shape &input, const Pool2dParams &p) {
    if (input.size() != 4) fail("{}: pooling expects a 4-D NCHW input, got shape {}", name, shape_string(input));
    if (p.kind == PoolKind::p_norm && !(p.p >= 1.0f)) fail("{}: p-norm exponent p is {}, expected >= 1", name, p.p);
    return {input[0], input[1], checked_output_size(name, "height", input[2], p.height, p),
            checked_output_size(name, "width", input[3], p.width, p)};
}

Layer pool2d(const std::string &name, const Tensor &input, const Pool2dParams &p) {
    const Shape out_shape = pool2d_output_shape(name, input.shape, p);
    const int height = input.shape[2], width = input.shape[3];

    Dims d;
    const float pad_value = p.kind == PoolKind::max ? -std::numeric_limits<float>::infinity() : 0.0f;
    Func padded(name + "_padded");
    Func clamped = BoundaryConditions::constant_exterior(input.func, pad_value, {{0, width}, {0, height}});
    padded(d.x, d.y, d.c, d.n) = clamped(d.x, d.y, d.c, d.n);

    Expr x0 = d.x * p.width.stride - p.width.pad_before;
    Expr y0 = d.y * p.height.stride - p.height.pad_before;
    Expr acc;
    const bool unrolled = pool_window_unrolled(p);
    if (!unrolled) {
        // Unrolling would swamp the compiler; such windows are trained with the hand-derived backward.
        RDom r(0, p.width.kernel, 0, p.height.kernel, name + "_window");
        Expr v = padded(x0 + r.x * p.width.dilation, y0 + r.y * p.height.dilation, d.c, d.n);
        acc = p.kind == PoolKind::max ? maximum(v) : sum(v);
    }
    for (int ky = 0; unrolled && ky < p.height.kernel; ++ky) {
        for (int kx = 0; kx < p.width.kernel; ++kx) {
            Expr v = padded(x0 + kx * p.width.dilation, y0 + ky * p.height.dilation, d.c, d.n);
            if (p.kind == PoolKind::p_norm) v = pow(abs(v), p.p);
            acc = ky == 0 && kx == 0 ? v : (p.kind == PoolKind::max ? max(acc, v) : acc + v);
        }
    }
    Expr result = acc;
    if (p.kind == PoolKind::average) {
        result = acc / average_divisor(p, x0, y0, width, height);
    } else if (p.kind == PoolKind::p_norm) {
        result = pow(acc / float(p.height.kernel * p.width.kernel), 1.0f / p.p);
    }

    Func out(name);
    out(d.x, d.y, d.c, d.n) = result;
    return {name, "pool2d", {out, out_shape}, {{"padded", padded}}, {}};
}

}  // namespace cnngen

namespace cnngen {

Shape global_avg_pool_output_shape(const std::string &name, const Shape &input) {
    if (input.size() != 4)
        fail("{}: global_avg_pool expects a 4-D (N, C, H, W) input, got {}", name, shape_string(input));
    return {input[0], input[1], 1, 1};
}

Layer global_avg_pool(const std::string &name, const Tensor &input) {
    const Shape shape = global_avg_pool_output_shape(name, input.shape);
    Dims d;
    RDom r(0, input.shape[3], 0, input.shape[2], name + "_r");
    Func sum(name + "_sum");
    sum(d.x, d.y, d.c, d.n) = 0.0f;
    sum(d.x, d.y, d.c, d.n) += input.func(d.x + r.x, d.y + r.y, d.c, d.n);
    Func out(name);
    out(d.x, d.y, d.c, d.n) = sum(d.x, d.y, d.c, d.n) * (1.0f / float(input.shape[2] * input.shape[3]));
    return {name, "global_avg_pool", {out, shape}, {{"sum", sum}}, {{"r", r}}};
}

}  // namespace cnngen
