#include "conv2d.h"

#include "errors.h"
#include "winograd.h"

using namespace Halide;

namespace cnngen {

Shape conv2d_weight_shape(int in_channels, const Conv2dParams &p) {
    return {p.out_channels, in_channels / p.groups, p.height.kernel, p.width.kernel};
}

Shape conv2d_output_shape(const std::string &name, const Shape &input, const Conv2dParams &p) {
    if (input.size() != 4) fail("{}: conv2d expects a 4-D NCHW input, got shape {}", name, shape_string(input));
    const int channels = input[1];
    if (p.out_channels < 1) fail("{}: out_channels is {}, expected at least 1", name, p.out_channels);
    if (p.groups < 1) fail("{}: groups is {}, expected at least 1", name, p.groups);
    if (channels % p.groups != 0) fail("{}: input channels {} not divisible by groups {}", name, channels, p.groups);
    if (p.out_channels % p.groups != 0)
        fail("{}: out_channels {} not divisible by groups {}", name, p.out_channels, p.groups);
    if (p.height.padding_mode != PaddingMode::explicit_pads || p.width.padding_mode != PaddingMode::explicit_pads)
        fail("{}: padding mode was not resolved against the input (resolve_padding)", name);
    return {input[0], p.out_channels, window_output_size(name, "height", input[2], p.height),
            window_output_size(name, "width", input[3], p.width)};
}

Layer conv2d(const std::string &name, const Tensor &input, const Conv2dParams &p, const ParamSource &source,
             AlgorithmForm form) {
    if (p.winograd_tile) return conv2d_winograd(name, input, p, source);
    const Shape out_shape = conv2d_output_shape(name, input.shape, p);
    const int channels = input.shape[1], height = input.shape[2], width = input.shape[3];
    const int group_in = channels / p.groups, group_out = p.out_channels / p.groups;
    const int kh = p.height.kernel, kw = p.width.kernel;

    Dims d;
    Func weight = source(name + ".weight", conv2d_weight_shape(channels, p));

    // Zero outside the image; without padding every tap is inside it, so the input is read as
    // it is (no bounds test per load, nothing to copy).
    const bool has_padding = p.height.pad_before || p.height.pad_after || p.width.pad_before || p.width.pad_after;
    Func padded(name + "_padded");
    if (has_padding) {
        Func clamped = BoundaryConditions::constant_exterior(input.func, 0.0f, {{0, width}, {0, height}});
        padded(d.x, d.y, d.c, d.n) = clamped(d.x, d.y, d.c, d.n);
    } else {
        padded(d.x, d.y, d.c, d.n) = input.func(d.x, d.y, d.c, d.n);
    }

    // The differentiable form reduces over all input channels and masks other groups out:
    // indexing the input by (c / group_out) * group_in + r makes Halide 14's autodiff return a
    // wrong input gradient, while the masked reduction differentiates correctly (at groups x
    // the work).
    const bool masked = p.groups > 1 && form == AlgorithmForm::differentiable;
    RDom r(0, kw, 0, kh, 0, masked ? channels : group_in, name + "_r");
    // The RDom walks each kernel axis backwards: with the forward order, Halide 14's autodiff
    // returns a wrong input gradient when the stride equals the kernel size.
    Expr tap_x = kw - 1 - r.x, tap_y = kh - 1 - r.y;
    Expr kx = p.flip_kernel ? Expr(r.x) : tap_x;
    Expr ky = p.flip_kernel ? Expr(r.y) : tap_y;
    Expr in_x = d.x * p.width.stride + tap_x * p.width.dilation - p.width.pad_before;
    Expr in_y = d.y * p.height.stride + tap_y * p.height.dilation - p.height.pad_before;
    Expr product;
    if (p.groups == 1) {
        product = weight(kx, ky, r.z, d.c) * padded(in_x, in_y, r.z, d.n);
    } else if (!masked) {
        product = weight(kx, ky, r.z, d.c) * padded(in_x, in_y, (d.c / group_out) * group_in + r.z, d.n);
    } else {
        Expr group_start = (d.c / group_out) * group_in;
        Expr in_group = r.z >= group_start && r.z < group_start + group_in;
        Expr weight_channel = clamp(r.z - group_start, 0, group_in - 1);
        product = select(in_group, weight(kx, ky, weight_channel, d.c) * padded(in_x, in_y, r.z, d.n), 0.0f);
    }

    Func sum(name + "_sum");
    sum(d.x, d.y, d.c, d.n) = p.bias ? source(name + ".bias", {p.out_channels})(d.c) : Expr(0.0f);
    sum(d.x, d.y, d.c, d.n) += product;

    Func out(name);
    out(d.x, d.y, d.c, d.n) = sum(d.x, d.y, d.c, d.n);
    return {name, "conv2d", {out, out_shape},
            {{"sum", sum}, {"padded", padded}, {"weight", weight}},
            {{"r", r}},
            {{"stride_x", p.width.stride}, {"stride_y", p.height.stride},
             {"dilation_x", p.width.dilation}, {"dilation_y", p.height.dilation}, {"padding", has_padding},
             {"groups", p.groups}, {"in_channels", channels}}};
}

}  // namespace cnngen
