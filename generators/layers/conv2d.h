#pragma once
#include "shape_rules.h"
#include "tensor.h"

namespace cnngen {

struct Conv2dParams {
    int out_channels = 1;
    Window1d height;  // kernel, stride, padding (top/bottom), dilation along H
    Window1d width;   // the same along W (padding left/right)
    int groups = 1;
    bool bias = true;
    // false: cross-correlation (what frameworks call convolution);
    // true: the notes' convolution Y*K, i.e. cross-correlation with the kernel flipped.
    bool flip_kernel = false;
    // 2 or 4: computed by Winograd's F(m x m, 3 x 3) from weights transformed once (winograd.h),
    // where it applies; 0: directly. The plan sets it for inference under the cpu schedule.
    int winograd_tile = 0;
};

// Input NCHW, weight OIHW = [out, in/groups, kh, kw] named NAME.weight, bias [out] named NAME.bias.
// Grouped: `direct` reduces over the group's own input channels, `differentiable` over every
// channel behind a mask. Ungrouped convolutions are the same in both.
Layer conv2d(const std::string &name, const Tensor &input, const Conv2dParams &params, const ParamSource &source,
             AlgorithmForm form = AlgorithmForm::direct);

Shape conv2d_weight_shape(int in_channels, const Conv2dParams &params);
// The output shape for an NCHW input; throws ConfigError naming `name` when it does not fit.
Shape conv2d_output_shape(const std::string &name, const Shape &input, const Conv2dParams &params);


}  // namespace cnngen
