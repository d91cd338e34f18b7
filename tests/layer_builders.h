#pragma once
// Adapters from the reference's hyperparameters to the layer algorithms', so each
// test states one configuration and runs it through both.
#include "jit_harness.h"

#include <layers/conv2d.h>
#include <layers/lrn.h>
#include <layers/pooling.h>

namespace testing_support {

inline cnngen::Conv2dParams conv_params(int out_channels, int kh, int kw, const reference::Conv2d &r) {
    cnngen::Conv2dParams p;
    p.out_channels = out_channels;
    p.height = {kh, r.stride_h, r.pad_top, r.pad_bottom, r.dilation_h};
    p.width = {kw, r.stride_w, r.pad_left, r.pad_right, r.dilation_w};
    p.groups = r.groups;
    p.flip_kernel = r.flip_kernel;
    return p;
}

inline cnngen::Pool2dParams pool_params(const reference::Pool2d &r) {
    cnngen::Pool2dParams p;
    p.kind = r.kind == reference::Pool::max       ? cnngen::PoolKind::max
             : r.kind == reference::Pool::average ? cnngen::PoolKind::average
                                                  : cnngen::PoolKind::p_norm;
    p.height = {r.kernel_h, r.stride_h, r.pad_top, r.pad_bottom, r.dilation_h, r.ceil_mode};
    p.width = {r.kernel_w, r.stride_w, r.pad_left, r.pad_right, r.dilation_w, r.ceil_mode};
    p.count_include_pad = r.count_include_pad;
    p.p = float(r.p);
    return p;
}

inline cnngen::LrnParams lrn_params(const reference::Lrn &r) {
    cnngen::LrnParams p{r.inter_channel ? cnngen::LrnKind::inter_channel : cnngen::LrnKind::intra_channel, r.n,
                        float(r.kappa), float(r.gamma), float(r.beta)};
    p.window = r.onnx_window ? cnngen::LrnWindow::onnx : cnngen::LrnWindow::centered;
    return p;
}

}  // namespace testing_support
