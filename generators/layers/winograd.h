#pragma once
// 3x3 stride-1 convolution by Winograd's minimal filtering, F(m x m, 3 x 3) (Lavin and Gray,
// "Fast Algorithms for Convolutional Neural Networks", 2016): each m x m block of outputs
// from an (m + 2)^2 input tile with (m + 2)^2 multiplications per input and output channel
// pair instead of 9 m^2, i.e. 2.25x fewer for m = 2 and 4x fewer for m = 4.
//   Y = Aᵀ [ U ⊙ V ] A,  U = G g Gᵀ (the weights, transformed once), V = Bᵀ d B (the input tile).
// Float32 error grows with m (the transforms' constants grow): see winograd_error_bound.
#include "conv2d.h"

#include <cnngen/winograd_weights.h>  // G, winograd_weight_matrix(m)

namespace cnngen {

// The output tiles this implementation has matrices for.
bool is_winograd_tile(int m);
// Whether a convolution can run by Winograd's algorithm: 3x3, stride 1, no dilation,
// cross-correlation (as frameworks compute it); grouped too, each group over its own channels.
bool winograd_applies(const Conv2dParams &params);
// The transformed weights' shape, [O, I, m + 2, m + 2] (I: a group's input channels): what the
// layer asks its source for.
Shape winograd_weight_shape(int out_channels, int in_channels, int m);

// Bound on |cnngen - exact| for an output, relative to the largest sum of |w| |x| over the taps
// and channels (and |bias|) among the outputs of its sample and channel: measured over random
// layers and on ResNet-50's and VGG-16's layer shapes (tests/test_winograd.cpp), with a margin.
double winograd_error_bound(int m);

// conv2d(...) with params.winograd_tile = m: the source's NAME.weight holds the transformed
// weights U, indexed (ax, ay, ci, co) in Halide order, of winograd_weight_shape.
Layer conv2d_winograd(const std::string &name, const Tensor &input, const Conv2dParams &params,
                      const ParamSource &source);

}  // namespace cnngen
