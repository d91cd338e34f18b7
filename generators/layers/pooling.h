#pragma once
#include "shape_rules.h"
#include "tensor.h"

namespace cnngen {

enum class PoolKind { max, average, p_norm };
PoolKind pool_kind_from_name(const std::string &layer, const std::string &name);

struct Pool2dParams {
    PoolKind kind = PoolKind::max;
    Window1d height;  // kernel, stride, padding along H (dilation unused, must be 1)
    Window1d width;
    // Average pooling divisor: true counts padded zeros (PyTorch's default,
    // count_include_pad=True); false divides by the in-bounds elements only.
    bool count_include_pad = true;
    // p-norm pooling as in the notes (003): (mean over the window of |v|^p)^(1/p), padding
    // counting as 0. PyTorch's LPPool2d omits the mean: it equals this times (kh*kw)^(1/p).
    float p = 2.0f;
};

// Windows are unrolled into pure expressions, never RDom maxima, so Halide's
// autodiff can differentiate them (it cannot differentiate maximum() over an RDom).
Layer pool2d(const std::string &name, const Tensor &input, const Pool2dParams &params);
// The output shape for an NCHW input; throws ConfigError naming `name` when it does not fit.
Shape pool2d_output_shape(const std::string &name, const Shape &input, const Pool2dParams &params);

}  // namespace cnngen
