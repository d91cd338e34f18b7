#pragma once
// Batch normalization (notes 002), PyTorch's BatchNorm2d (and BatchNorm1d on (N, F)). Inference
// (eval mode) normalizes each channel with the running statistics:
//   y = (x - running_mean) / sqrt(running_var + epsilon) * weight + bias;
// training with the batch's own mean and biased variance over N, H and W, and updates the running
// statistics as PyTorch does: running = (1 - momentum) running + momentum batch, the variance
// unbiased (times M / (M - 1), M the elements per channel).
// Tensors NAME.weight, NAME.bias, NAME.running_mean, NAME.running_var, each [C].
#include "tensor.h"

namespace cnngen {

struct BatchNormParams {
    float epsilon = 1e-5f;
    float momentum = 0.1f;  // PyTorch's: running = (1 - momentum) running + momentum batch
    // The type the batch statistics and their gradients are summed in: double, unless the
    // target has none (OpenCL without cl_khr_fp64); set by the pipeline builder, not the spec.
    Halide::Type sum_type = Halide::Float(64);
};

Layer batch_norm(const std::string &name, const Tensor &input, const BatchNormParams &params, const ParamSource &source);
// With batch statistics: stages "mean" and "inv_std" per channel (the backward pass reads them),
// the running statistics' next values in state_updates.
Layer batch_norm_training(const std::string &name, const Tensor &input, const BatchNormParams &params,
                          const ParamSource &source);
// Elements per channel a batch's statistics average over: N, or N H W.
int batch_norm_count(const Shape &input);

// batch_norm's four tensors, each [C].
struct BatchNormTensors {
    Halide::Func weight, bias, running_mean, running_var;
};
BatchNormTensors batch_norm_tensors(const std::string &name, int channels, const ParamSource &source);

// The Vars of an (N, C, H, W) or (N, F) tensor, its channel Var, and a reduction over every
// element of one channel ((x, y, n) of an image, n of features): what the batch statistics and
// their gradients sum over.
struct ChannelReduction {
    std::vector<Halide::Var> vars;
    Halide::Var c;
    Halide::RDom r;
    // `f` at the reduction's point of channel c.
    Halide::Expr element(const Halide::Func &f) const;
};
ChannelReduction channel_reduction(const std::string &name, const Shape &shape);
Shape batch_norm_output_shape(const std::string &name, const Shape &input, const BatchNormParams &params);

// Dropout (notes 002): the identity at inference, as PyTorch's eval mode. While training (a
// `seed` given) each element is zeroed with probability p and the others scaled by 1 / (1 - p),
// as PyTorch's train mode. The mask is a hash of the element's coordinates and the seed
// (dropout_scale), so the backward pass recomputes it instead of storing it, and a step is
// reproducible from its seed.
struct DropoutParams {
    float p = 0.5f;  // the probability of zeroing an element while training
    // The step's seed (an int32 scalar argument), set by the pipeline builder, not the spec;
    // undefined at inference.
    Halide::Expr seed;
};
Layer dropout(const std::string &name, const Tensor &input, const DropoutParams &params);
// 1 / (1 - p) where the element at `at` (x, y, c, n or i, n) is kept, 0 where dropped: kept when
// the top 24 bits of a 32-bit hash of (seed, then each coordinate in that order), read as a
// fraction of 2^24, are at least p. The hash: h = seed * 0x9E3779B9; per coordinate
// h = (h ^ coordinate) * 0x85EBCA6B, h ^= h >> 15; then h ^= h >> 16, h *= 0xC2B2AE35,
// h ^= h >> 13 (all modulo 2^32).
Halide::Expr dropout_scale(const std::vector<Halide::Expr> &at, const Halide::Expr &seed, float p);

}  // namespace cnngen
