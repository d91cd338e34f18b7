#pragma once
#include "tensor.h"

namespace cnngen {

enum class LossKind { softmax_cross_entropy, mean_squared_error, hinge, huber };
LossKind loss_kind_from_name(const std::string &layer, const std::string &name);
bool loss_takes_labels(LossKind kind);

struct LossParams {
    LossKind kind = LossKind::softmax_cross_entropy;
    float margin = 1.0f;  // hinge margin (PyTorch MultiMarginLoss, p=1)
    float delta = 1.0f;   // Huber threshold (PyTorch HuberLoss)
};

// A scalar (0-D Func), the mean over the batch as PyTorch computes it:
//  softmax_cross_entropy: mean_n [logsumexp(x[n]) - x[n, label[n]]]        (labels: int32 (n))
//  hinge:                 mean_n sum_{i != label} max(0, margin - x[n,label] + x[n,i]) / F
//  mean_squared_error:    mean over all elements of (x - t)^2              (targets: float (i, n))
//  huber:                 mean of 0.5 d^2 if |d| < delta else delta (|d| - delta/2)
Layer loss(const std::string &name, const Tensor &prediction, const Halide::Func &target, const LossParams &params);

}  // namespace cnngen
