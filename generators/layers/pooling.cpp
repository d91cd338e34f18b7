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

void check_window(const std::string &name, const char *axis, const Window1d &w, PoolKind kind) {
    if (w.dilation != 1) fail("{}: pooling dilation {} is {}, expected 1", name, axis, w.dilation);
    // A max window lying wholly in the padding would output -inf; PyTorch forbids it too.
    if (kind == PoolKind::max && (w.pad_before > w.kernel / 2 || w.pad_after > w.kernel / 2))
        fail("{}: max pooling padding {} is {}/{}, expected at most half the kernel ({})", name, axis,
             w.pad_before, w.pad_after, w.kernel / 2);
}

// Number of window positions inside the unpadded input along one axis.
Expr in_bounds_count(Expr start, int kernel, int extent) {
    return max(min(start + kernel, extent) - max(start, 0), 0);
}

}  // namespace

Shape pool2d_output_shape(const std::string &name, const Shape &input, const Pool2dParams &p) {
    if (input.size() != 4) fail("{}: pooling expects a 4-D NCHW input, got shape {}", name, shape_string(input));
    check_window(name, "height", p.height, p.kind);
    check_window(name, "width", p.width, p.kind);
    if (p.kind == PoolKind::p_norm && !(p.p >= 1.0f)) fail("{}: p-norm exponent p is {}, expected >= 1", name, p.p);
    return {input[0], input[1], window_output_size(name, "height", input[2], p.height),
            window_output_size(name, "width", input[3], p.width)};
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
    for (int ky = 0; ky < p.height.kernel; ++ky) {
        for (int kx = 0; kx < p.width.kernel; ++kx) {
            Expr v = padded(x0 + kx, y0 + ky, d.c, d.n);
            if (p.kind == PoolKind::p_norm) v = pow(abs(v), p.p);
            acc = !acc.defined() ? v : (p.kind == PoolKind::max ? max(acc, v) : acc + v);
        }
    }
    Expr result = acc;
    if (p.kind == PoolKind::average) {
        Expr divisor = p.count_include_pad
                           ? Expr(float(p.height.kernel * p.width.kernel))
                           : cast<float>(in_bounds_count(y0, p.height.kernel, height) *
                                         in_bounds_count(x0, p.width.kernel, width));
        result = acc / divisor;
    } else if (p.kind == PoolKind::p_norm) {
        result = pow(acc / float(p.height.kernel * p.width.kernel), 1.0f / p.p);
    }

    Func out(name);
    out(d.x, d.y, d.c, d.n) = result;
    return {name, "pool2d", {out, out_shape}, {{"padded", padded}}, {}};
}

}  // namespace cnngen
