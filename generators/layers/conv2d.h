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
};

// Grouped convolution in two forms: `direct` reduces over the group's own input channels
// (the one to run); `masked` reduces over every channel behind a mask, the form Halide 14's
// autodiff differentiates correctly. Ungrouped convolutions are the same in both.
enum class ConvForm { direct, masked };

// Input NCHW, weight OIHW = [out, in/groups, kh, kw] named NAME.weight, bias [out] named NAME.bias.
Layer conv2d(const std::string &name, const Tensor &input, const Conv2dParams &params, const ParamSource &source,
             ConvForm form = ConvForm::direct);

Shape conv2d_weight_shape(int in_channels, const Conv2dParams &params);
// The output shape for an NCHW input; throws ConfigError naming `name` when it does not fit.
Shape conv2d_output_shape(const std::string &name, const Shape &input, const Conv2dParams &params);


}  // namespace cnngen
