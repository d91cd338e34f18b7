#pragma once
#include "shape_rules.h"
#include "tensor.h"

namespace cnngen {

enum class PoolKind { max, average, p_norm };
PoolKind pool_kind_from_name(const std::string &layer, const std::string &name);

struct Pool2dParams {
    PoolKind kind = PoolKind::max;
    Window1d height;  // kernel, stride, padding, ceil_mode along H; dilation (max pooling only)
    Window1d width;
    // Average pooling divisor: true counts padded zeros (PyTorch's default,
    // count_include_pad=True); false divides by the in-bounds elements only.
    bool count_include_pad = true;
    // p-norm pooling as in the notes (003): (mean over the window of |v|^p)^(1/p), padding
    // counting as 0. PyTorch's LPPool2d omits the mean: it equals this times (kh*kw)^(1/p).
    float p = 2.0f;
};

// Windows of up to 64 taps (and every p-norm window) are unrolled into pure expressions, never
// RDom maxima, so Halide's autodiff can differentiate them (it cannot differentiate maximum()
// over an RDom); larger max and average windows reduce over an RDom and build for inference
// only (training_obstacle in plan.h).
Layer pool2d(const std::string &name, const Tensor &input, const Pool2dParams &params);
// The output shape for an NCHW input; throws ConfigError naming `name` when it does not fit
// or a window of max pooling (or of average pooling without the padding) lies wholly in the
// padding. Padding modes must have been resolved (resolve_padding).
Shape pool2d_output_shape(const std::string &name, const Shape &input, const Pool2dParams &params);

// Whether the window is unrolled (trainable: the hand-derived backward and autodiff both
// unroll it) or reduced over an RDom (inference only).
bool pool_window_unrolled(const Pool2dParams &p);

// Window taps inside [0, extent) for a window of `kernel` starting at `start` (dilation 1).
Halide::Expr in_bounds_count(Halide::Expr start, int kernel, int extent);
// Average pooling's divisor for the window starting at (x0, y0): the kernel's size, or with
// count_include_pad false the taps inside the input; a ceil_mode window reaching past the
// padding counts only its taps within the padded input (PyTorch's rule). At least 1.
Halide::Expr average_divisor(const Pool2dParams &p, Halide::Expr x0, Halide::Expr y0, int width, int height);

}  // namespace cnngen

namespace cnngen {

// The mean over each channel's whole H x W, (N, C, H, W) -> (N, C, 1, 1): ONNX's
// GlobalAveragePool, PyTorch's AdaptiveAvgPool2d(1); any window size, and trainable.
Layer global_avg_pool(const std::string &name, const Tensor &input);
Shape global_avg_pool_output_shape(const std::string &name, const Shape &input);

}  // namespace cnngen
