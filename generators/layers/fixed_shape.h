#pragma once
// Bakes a PyTorch-order shape into an input or output buffer of a pipeline (Halide's
// order is reversed): fixed bounds for specialized code, the same as estimates for the
// autoschedulers. Works for ImageParams, OutputImageParams and Generator Inputs/Outputs.
#include "tensor.h"

namespace cnngen {

template <typename BufferLike>
void fix_shape(BufferLike &buffer, const Shape &shape) {
    Halide::Region estimates;
    for (size_t k = 0; k < shape.size(); ++k) {
        const int extent = shape[shape.size() - 1 - k];
        buffer.dim(int(k)).set_bounds(0, extent);
        estimates.push_back({0, extent});
    }
    buffer.set_estimates(estimates);
}

}  // namespace cnngen
